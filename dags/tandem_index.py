"""tandem_index: ingest → embed (Spark) → build → quality gate → warm candidate → publish.

Thin: every task calls one ``batch.orchestration`` step (the same batch functions as the ``tandem``
CLI) with its run's ``{{ ds }}``; batch modules are imported inside the tasks, never at parse time.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import (
    Asset,
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    dag,
    task,
)

from batch.orchestration import (
    LIVE_INDEX_ASSET_NAME,
    LIVE_INDEX_ASSET_URI,
    dag_default_args,
    spark_job_path,
)
from batch.settings import get_settings

LIVE_INDEX = Asset(name=LIVE_INDEX_ASSET_NAME, uri=LIVE_INDEX_ASSET_URI)
CONF = get_settings()  # env-only pydantic settings: no I/O


DOC = """
### tandem_index
Daily: snapshot the source for `{{ ds }}`, embed the new chunks with Spark, build the index
version of that date, check it against the quality gate, warm its hot answers, publish it.

* Every task reads and writes only the run date's partition (`snapshots/<ds>/`, the version
  `<ds>-<digest>`), so a re-run or a backfill of a date gives the same result.
* Publish never moves the live pointer back to an older date (backfills stay safe).
* The gate refuses recall under the reference figures (`batch/reference_figures.json`, minus
  their tolerances) or under the live version's, and, on a SQuAD labelled set, generated answers
  more than `TANDEM_GATE_F1_TOLERANCE` (2) F1 points under the live version's on the same
  `TANDEM_GATE_ANSWERS` (20) held-out questions (0: no answer gate).
* Params (all optional; the Trigger and Backfill forms run with the defaults as they are):
  `source` (what to ingest; empty: `TANDEM_INDEX_SOURCE`, else the demo corpus), `labelled`
  (gate questions; empty: `TANDEM_LABELLED_SET`, else the SQuAD source), `warm_candidate`.
  In a backfill, changed params apply only when *Override parameters on existing runs* is ticked.
* `publish` is skipped, and emits no `tandem_live_index` asset event, when the live pointer does
  not move (a backfill of an older date, or a re-run of the live version).
* Embed runs in-process by default; `TANDEM_EMBED_MODE=spark_submit` uses `SparkSubmitOperator`
  (connection `spark_default`) on `batch/embed/spark_job.py --date {{ ds }}`.
* Failures post to `TANDEM_ALERTS__WEBHOOK_URL`; a deadline alert fires when a run is not done
  `TANDEM_INDEX_DEADLINE_H` hours after it was queued.
"""


@dag(
    dag_id="tandem_index",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["tandem", "index", "spark"],
    doc_md=DOC,
    default_args=dag_default_args(CONF),
    params={
        "source": Param(
            None,
            type=["null", "string"],
            title="Source",
            description="What to ingest, a path on the worker: a folder, a JSONL or a SQuAD JSON "
            "file. Leave empty for TANDEM_INDEX_SOURCE, else the demo corpus.",
        ),
        "labelled": Param(
            None,
            type=["null", "string"],
            title="Labelled set",
            description="The quality gate's questions, a path on the worker. Leave empty for "
            "TANDEM_LABELLED_SET, else the source when it is SQuAD.",
        ),
        "warm_candidate": Param(
            True,
            type="boolean",
            title="Warm the candidate",
            description="Precompute the candidate version's hot answers before publishing it.",
        ),
    },
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=CONF.index_deadline_h),
        callback=AsyncCallback("batch.alerts.deadline_missed", kwargs={"dag_id": "tandem_index"}),
    )
    if CONF.index_deadline_h
    else None,
)
def tandem_index() -> None:
    @task
    def ingest(day: str, source: str) -> dict:
        from batch.orchestration import ingest_step

        return ingest_step(day, source)

    @task
    def embed(day: str) -> dict:
        from batch.orchestration import embed_step

        return embed_step(day)

    @task
    def build(day: str) -> str:
        from batch.orchestration import build_step

        return build_step(day)

    @task
    def gate(version: str, source: str, labelled: str) -> str:
        from batch.orchestration import gate_step

        gate_step(version, source=source, labelled=labelled)
        return version

    @task
    def warm_candidate(day: str, version: str, enabled: str) -> dict:
        """Precompute the candidate's hot answers before it goes live (keys carry the version)."""
        from batch.orchestration import warm_step

        if enabled.strip().lower() in ("false", "0", ""):
            return {"skipped": True}
        return warm_step(day, version)

    @task(outlets=[LIVE_INDEX])
    def publish(version: str) -> dict:
        """Move the live pointer; a skip (no asset event) when it stays where it is."""
        from airflow.sdk.exceptions import AirflowSkipException

        from batch.orchestration import publish_step

        out = publish_step(version)
        if not out["published"]:
            raise AirflowSkipException(
                f"not published: the live index {out['live']} is newer than {version}, and a "
                "backfill never moves it back; no tandem_live_index asset event"
            )
        if not out["moved"]:
            raise AirflowSkipException(
                f"{version} was already live (Redis re-notified); the pointer did not move, "
                "so no tandem_live_index asset event"
            )
        return out

    @task(trigger_rule="none_failed")  # also after a skipped publish (the pointer stayed)
    def record_success(at: str) -> str:
        from batch.orchestration import record_success_step

        return record_success_step("tandem_index", at)

    ds = "{{ ds }}"
    source, labelled = "{{ params.source or '' }}", "{{ params.labelled or '' }}"
    snap = ingest(ds, source)
    if CONF.embed_mode == "spark_submit":
        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

        embedded = SparkSubmitOperator(
            task_id="embed",
            conn_id=CONF.spark_conn_id,
            application=str(spark_job_path()),
            application_args=["--date", ds],
            name="tandem-embed-{{ ds_nodash }}",
        )
    else:
        embedded = embed(ds)
    version = build(ds)
    snap >> embedded >> version
    checked = gate(version, source, labelled)
    warmed = warm_candidate(ds, checked, "{{ params.warm_candidate }}")
    published = publish(checked)
    warmed >> published
    published >> record_success("{{ data_interval_end }}")


tandem_index()
