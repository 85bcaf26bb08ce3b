"""tandem_hot_answers: precompute the hot questions' answers into the Redis cache.

Runs daily for the day just ended and whenever the live index changes (the Asset the index DAG's
publish task updates). Batch modules are imported inside the tasks.
"""

from __future__ import annotations

from datetime import datetime

import pendulum
from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    Param,
    dag,
    get_current_context,
    task,
)

from batch.orchestration import LIVE_INDEX_ASSET_NAME, LIVE_INDEX_ASSET_URI, dag_default_args
from batch.settings import get_settings

LIVE_INDEX = Asset(name=LIVE_INDEX_ASSET_NAME, uri=LIVE_INDEX_ASSET_URI)
CONF = get_settings()  # env-only pydantic settings: no I/O


DOC = """
### tandem_hot_answers
Mines the query log (`tandem:querylog`) for the run date's hot questions, answers them with the
same pipeline as the online service and writes the versioned cache entries with a TTL.

* Scheduled daily (the data interval's day) **or** on an update of the `tandem_live_index`
  asset (asset-triggered runs have no logical date: they mine the day they run on).
* Params (all optional): `version` (empty: the live version; a candidate version warms it
  before promotion — the index DAG does this in its `warm_candidate` task), `questions_file` (a
  fixed list instead of the query log), `top_k` (empty: `TANDEM_HOT_TOP_K`).
* Until the first publish of `tandem_index` there is nothing to warm: `warm` is skipped with
  "no index published yet", not failed.
* Idempotent: keys carry the index version and question hash, so a re-run overwrites the same keys.
"""


@dag(
    dag_id="tandem_hot_answers",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), assets=[LIVE_INDEX]
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["tandem", "cache"],
    doc_md=DOC,
    default_args=dag_default_args(CONF),
    params={
        "version": Param(
            None,
            type=["null", "string"],
            title="Index version",
            description="The version to warm, e.g. 20260301-1a2b3c4d. Leave empty for the live "
            "version.",
        ),
        "questions_file": Param(
            None,
            type=["null", "string"],
            title="Questions file",
            description="A fixed list of questions (a path on the worker, one per line). Leave "
            "empty to mine the query log of the run date.",
        ),
        "top_k": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Hot questions",
            description="How many of the most asked questions to warm. Leave empty for "
            "TANDEM_HOT_TOP_K.",
        ),
    },
)
def tandem_hot_answers() -> None:
    @task
    def run_date() -> str:
        """The date whose hot questions are mined: logical date, else when the run happened."""
        from batch.orchestration import run_date_of

        ctx = get_current_context()
        logical: datetime | None = ctx.get("logical_date")
        dag_run = ctx["dag_run"]
        return run_date_of(logical, getattr(dag_run, "run_after", None)).isoformat()

    @task
    def warm(day: str, version: str, questions_file: str, top_k: str) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from batch.orchestration import StepSkipped, warm_step

        try:
            return warm_step(day, version or None, questions_file or None, top_k)
        except StepSkipped as exc:  # nothing published yet: not a failure
            raise AirflowSkipException(str(exc)) from exc

    @task
    def record_success(day: str) -> str:
        from batch.orchestration import record_success_step

        return record_success_step("tandem_hot_answers", f"{day}T00:00:00+00:00")

    day = run_date()
    warmed = warm(
        day,
        "{{ params.version or '' }}",
        "{{ params.questions_file or '' }}",
        "{{ params.top_k or '' }}",
    )
    warmed >> record_success(day)


tandem_hot_answers()
