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
    """A client to ``settings.redis_url`` (the caller closes it)."""
    import redis

    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
    )
