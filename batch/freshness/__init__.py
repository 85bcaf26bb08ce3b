"""Freshness: how stale the live index and the hot-answer cache are, and whether that is too stale.

``compute_freshness`` reads the data dir and Redis at a given ``now`` (the DAG passes its data
interval end, never the wall clock), stores the figures in the Redis hash ``tandem:freshness``
(read by ``tandem status`` and the online ``/metrics``) and lists the thresholds it breaches.
``enforce`` turns breaches into a :class:`FreshnessBreach` whose message names each figure and
its threshold. The schedule and thresholds are ``BatchSettings.freshness``
(``TANDEM_FRESHNESS__*``). Heavy libraries (pyarrow, redis) are imported inside functions.

- :mod:`batch.freshness.report`: the contract (``FreshnessReport``, ``Breach``, the errors,
  ``check_thresholds``, ``enforce``);
- :mod:`batch.freshness.store`: the figures and each DAG's last success in Redis;
- :mod:`batch.freshness.figures`: computing the figures.
"""

from batch.freshness.figures import (
    CACHE_PATTERN,
    compute_freshness,
    data_time_of,
    newest_snapshot,
    snapshot_day,
)
from batch.freshness.report import (
    Breach,
    FreshnessBreach,
    FreshnessError,
    FreshnessReport,
    NoIndexPublished,
    check_thresholds,
    enforce,
)
from batch.freshness.store import (
    DAG_SUCCESS_KEY,
    dag_success_ages,
    read_freshness,
    read_freshness_at,
    record_dag_success,
    write_figures,
)

__all__ = [
    "CACHE_PATTERN",
    "DAG_SUCCESS_KEY",
    "Breach",
    "FreshnessBreach",
    "FreshnessError",
    "FreshnessReport",
    "NoIndexPublished",
    "check_thresholds",
    "compute_freshness",
    "dag_success_ages",
    "data_time_of",
    "enforce",
    "newest_snapshot",
    "read_freshness",
    "read_freshness_at",
    "record_dag_success",
    "snapshot_day",
    "write_figures",
]
