"""The freshness figures in Redis: the ``tandem:freshness`` hash and each DAG's last success.

``write_figures`` replaces the hash with a report's figures; ``read_freshness`` reads them back
(``tandem status``, the online ``/metrics``). ``record_dag_success`` keeps the latest success time
per DAG in ``tandem:dag:last_success``; ``dag_success_ages`` turns those into hours. redis is
imported inside functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from batch.freshness._clock import aware, hours
from shared_schemas.layout import DAG_SUCCESS_KEY, FRESHNESS_KEY

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
    import redis

    own = redis.Redis.from_url(settings.redis_url)
    try:
        yield own
    finally:
        own.close()


def write_figures(client: Redis, report: FreshnessReport) -> None:
    """Replace the ``tandem:freshness`` hash with the figures of ``report``, atomically."""
    pipe = client.pipeline()
    pipe.delete(FRESHNESS_KEY)
    pipe.hset(FRESHNESS_KEY, mapping=report.to_redis())  # type: ignore[arg-type]
    pipe.execute()


def read_freshness(*, settings: BatchSettings, client: Redis | None = None) -> dict[str, str]:
    """The stored figures (empty when the job never ran)."""
    with connection(settings, client) as conn:
        raw = conn.hgetall(FRESHNESS_KEY)
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
