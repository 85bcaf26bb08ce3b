"""tandem_freshness: staleness figures of the live index and the cache, with alerts.

Batch modules are imported inside the task; the interval comes from
``TANDEM_FRESHNESS__INTERVAL_MIN`` through the batch settings object (env only, no I/O).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DeltaTriggerTimetable, dag, get_current_context, task

from batch.orchestration import dag_default_args
from batch.settings import get_settings

CONF = get_settings()  # env-only pydantic settings: no I/O
INTERVAL = timedelta(minutes=CONF.freshness.interval_min)


DOC = """
### tandem_freshness
Every `TANDEM_FRESHNESS__INTERVAL_MIN` minutes (15): live index age, documents new since the live
index, changed or unindexed chunks, hot-question cache coverage of the live version, cache entries
keyed to older versions, hours since each DAG's last success. Figures go to the Redis hash
`tandem:freshness` (read by `tandem status` and the online `/metrics`).

When a threshold (`TANDEM_FRESHNESS__MAX_*`, `TANDEM_FRESHNESS__MIN_HOT_CACHE_COVERAGE`) is
breached the task fails, without retry, with a message naming each figure and its threshold, and
the failure callback posts it to `TANDEM_ALERTS__WEBHOOK_URL`. `now` is the run's data interval
end. Until `tandem_index` has published an index the check is skipped ("no index published yet").

Backfills are safe: each run's figures are kept under its own time
(`tandem:freshness:at:<time>`), and `tandem:freshness` only ever moves forward in time. A range
backfill makes one run per 15 minutes (97 runs for two dates); for one check per day trigger
single runs with the logical dates you need (see docs/AIRFLOW.md).
"""


@dag(
    dag_id="tandem_freshness",
    schedule=DeltaTriggerTimetable(INTERVAL),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=INTERVAL * 2,
    tags=["tandem", "monitoring"],
    doc_md=DOC,
    default_args=dag_default_args(CONF),
)
def tandem_freshness() -> None:
    @task
    def check_freshness() -> dict:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from batch.freshness import FreshnessBreach
        from batch.orchestration import StepSkipped, freshness_step

        ctx = get_current_context()
        now = ctx.get("data_interval_end") or ctx.get("logical_date") or ctx["dag_run"].run_after
        try:
            return freshness_step(now.isoformat())
        except StepSkipped as exc:  # nothing published yet: not a failure
            raise AirflowSkipException(str(exc)) from exc
        except FreshnessBreach as exc:
            raise AirflowFailException(str(exc)) from exc  # a breach is not retried

    @task
    def record_success() -> str:
        from batch.orchestration import record_success_step

        ctx = get_current_context()
        now = ctx.get("data_interval_end") or ctx.get("logical_date") or ctx["dag_run"].run_after
        return record_success_step("tandem_freshness", now.isoformat())

    check_freshness() >> record_success()


tandem_freshness()
