"""The one way batch code opens a Redis client: with explicit connect and socket timeouts, so a
hung Redis fails a DAG task with ``redis.TimeoutError`` instead of hanging it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

    from batch.settings import BatchSettings

CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 5.0


def connect(settings: BatchSettings) -> Redis:
    """A client to ``settings.redis_url``, one node or a cluster (``core.redis_clients``; the
    caller closes it)."""
    from core.redis_clients import sync_redis

    client: Redis = sync_redis(
        settings.redis_url, timeout_s=SOCKET_TIMEOUT_S, connect_timeout_s=CONNECT_TIMEOUT_S
    )
    return client
