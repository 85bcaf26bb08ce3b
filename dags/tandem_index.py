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
* Params: `source` (what to ingest; default `TANDEM_INDEX_SOURCE`, else the demo corpus),
  `labelled` (gate questions; default the SQuAD source), `warm_candidate`.
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
        "source": Param("", type="string", description="Source to ingest (empty: default)."),
        "labelled": Param("", type="string", description="Labelled set for the gate."),
        "warm_candidate": Param(True, type="boolean", description="Warm the candidate's cache."),
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
        from batch.orchestration import publish_step

        return publish_step(version)

    @task
    def record_success(at: str) -> str:
        from batch.orchestration import record_success_step

        return record_success_step("tandem_index", at)

    ds = "{{ ds }}"
    snap = ingest(ds, "{{ params.source }}")
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
    checked = gate(version, "{{ params.source }}", "{{ params.labelled }}")
    warmed = warm_candidate(ds, checked, "{{ params.warm_candidate }}")
    published = publish(checked)
    warmed >> published
    published >> record_success("{{ data_interval_end }}")


tandem_index()
