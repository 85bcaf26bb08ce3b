"""The freshness figures in Redis: the ``tandem:freshness`` hash and each DAG's last success.

``write_figures`` stores a report's figures under its own time (``tandem:freshness:at:<time>``)
and replaces the current figures (``tandem:freshness``) only when the report is not older than
them, so a backfill of a past interval never hides newer figures; ``read_freshness`` reads the
current ones back (``tandem status``, the online ``/metrics``), ``read_freshness_at`` those of one
time. ``record_dag_success`` keeps the latest success time
per DAG in ``tandem:dag:last_success``; ``dag_success_ages`` turns those into hours. redis is
imported inside functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from batch.freshness._clock import aware, hours
from shared_schemas.layout import DAG_SUCCESS_KEY, FRESHNESS_KEY, freshness_key_at

if TYPE_CHECKING:
    from redis import Redis

    from batch.freshness.report import FreshnessReport
    from batch.settings import BatchSettings

log = logging.getLogger(__name__)


@contextmanager
def connection(settings: BatchSettings, client: Redis | None = None) -> Iterator[Redis]:
    """``client`` as given, or a new client to ``settings.redis_url`` closed on the way out."""
    if client is not None:
        yield client
        return
    from batch.redis_client import connect

    own = connect(settings)
    try:
        yield own
    finally:
        own.close()


def write_figures(client: Redis, report: FreshnessReport, *, keep_days: float = 30.0) -> bool:
    """Store the figures of ``report`` under its ``computed_at`` (kept ``keep_days``), and make
    them the current figures unless those were computed later. True when they became current.

    The compare-and-replace is one Redis transaction (WATCH on the current hash), so two runs
    finishing together cannot put the older figures last."""
    from redis.exceptions import WatchError

    figures = report.to_redis()
    at = aware(report.computed_at)
    dated = freshness_key_at(figures["computed_at"])
    ttl = max(1, int(keep_days * 86400))
    while True:
        # transaction=True: a cluster client's pipelines are not transactions unless asked
        # (the two keys share a hash slot, layout.FRESHNESS_AT_PREFIX)
        with client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(FRESHNESS_KEY)
                # WATCH mode: commands run at once and return their values until multi()
                current = _time_or_none(
                    cast("bytes | None", pipe.hget(FRESHNESS_KEY, "computed_at"))
                )
                newest = current is None or at >= current
                pipe.multi()
                pipe.delete(dated)
                pipe.hset(dated, mapping=figures)  # type: ignore[arg-type]
                pipe.expire(dated, ttl)
                if newest:
                    pipe.delete(FRESHNESS_KEY)
                    pipe.hset(FRESHNESS_KEY, mapping=figures)  # type: ignore[arg-type]
                pipe.execute()
            except WatchError:
                continue  # another run replaced the current figures meanwhile: compare again
        if not newest:
            log.info(
                "freshness figures of %s stored under %s; the current ones (%s) are newer",
                figures["computed_at"],
                dated,
                current.isoformat() if current else None,
            )
        return newest


def _time_or_none(value: bytes | str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return aware(datetime.fromisoformat(_text(value)))
    except ValueError:
        return None  # unreadable: replaced by the figures being written


def read_freshness(*, settings: BatchSettings, client: Redis | None = None) -> dict[str, str]:
    """The stored figures (empty when the job never ran)."""
    with connection(settings, client) as conn:
        raw = conn.hgetall(FRESHNESS_KEY)
    return {_text(k): _text(v) for k, v in raw.items()}


def read_freshness_at(
    computed_at: datetime, *, settings: BatchSettings, client: Redis | None = None
) -> dict[str, str]:
    """The figures computed at ``computed_at`` (empty when none are kept for that time)."""
    from batch.freshness.report import FreshnessReport

    at = aware(computed_at).astimezone(UTC)
    stamp = FreshnessReport(computed_at=at).to_redis()["computed_at"]
    with connection(settings, client) as conn:
        raw = conn.hgetall(freshness_key_at(stamp))
    return {_text(k): _text(v) for k, v in raw.items()}


def record_dag_success(
    dag_id: str, at: datetime, *, settings: BatchSettings, client: Redis | None = None
) -> str:
    """Record ``at`` as the DAG's last success unless a later one is recorded; returns the kept."""
    with connection(settings, client) as conn:
        current = conn.hget(DAG_SUCCESS_KEY, dag_id)
        stamp = aware(at).isoformat()
        if current is not None:
            kept = _text(current)
            try:
                if aware(datetime.fromisoformat(kept)) >= aware(at):
                    return kept
            except ValueError:
                log.warning("unreadable last success of dag %s replaced: %r", dag_id, kept)
        conn.hset(DAG_SUCCESS_KEY, dag_id, stamp)
        return stamp


def dag_success_ages(client: Redis, now: datetime) -> dict[str, float]:
    """Hours since each DAG's last success; an unparseable time is skipped with a warning."""
    ages: dict[str, float] = {}
    for dag, ts in client.hgetall(DAG_SUCCESS_KEY).items():
        try:
            at = aware(datetime.fromisoformat(_text(ts)))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            log.warning(
                "last-success time of dag %s unreadable, skipped: %r (%s)", _text(dag), ts, exc
            )
            continue
        ages[_text(dag)] = round(max(0.0, hours(now - at)), 3)
    return ages


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
