"""Redis clients for the service: short timeouts, one immediate retry (a stale pooled connection
after a Redis restart), and no long back-off, so a Redis outage degrades requests at once.

The asyncio client has no socket timeout of its own: redis-py enforces one with
``asyncio.wait_for``, a new task per command, which the cache-hit path cannot afford. Callers
bound each operation with :func:`deadline` (``asyncio.timeout``, no task) instead."""

from __future__ import annotations

import asyncio
from typing import Any

REDIS_OP_TIMEOUT_S = 1.0


def deadline(seconds: float = REDIS_OP_TIMEOUT_S) -> asyncio.Timeout:
    """``async with deadline(): await redis...`` raises TimeoutError when Redis hangs."""
    return asyncio.timeout(seconds)


def async_redis(url: str, *, connect_timeout_s: float = 0.5) -> Any:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=None,
        retry=Retry(NoBackoff(), 1),
        # no health-check PING: a stale pooled connection fails its command, which is retried
        # once on a fresh connection (the Retry above); the check cost every command time
    )


def sync_redis(url: str, *, timeout_s: float = 5.0) -> Any:
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Redis.from_url(
        url,
        socket_connect_timeout=min(2.0, timeout_s),
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
