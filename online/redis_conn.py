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


def async_redis(
    url: str,
    *,
    connect_timeout_s: float = 0.5,
    max_connections: int = 64,
    pool_wait_s: float = 10 * REDIS_OP_TIMEOUT_S,
) -> Any:
    """The service's client. Its pool is bounded and *blocking*: at more concurrent requests
    than connections a command waits for a free one instead of failing with "Too many
    connections", which the service took for Redis being down (at 256 connections cached
    answers turned into generations and the rate limiter went unchecked). The callers'
    deadlines bound that wait (a lookup past its deadline is "slow": a 503, never a
    generation); ``pool_wait_s`` is only a backstop, longer than any of them, so a busy pool
    is never mistaken for a Redis that is down."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool: Any = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_wait_s,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=None,
        retry=Retry(NoBackoff(), 1),
        # no health-check PING: a stale pooled connection fails its command, which is retried
        # once on a fresh connection (the Retry above); the check cost every command time
    )
    return Redis.from_pool(pool)  # type: ignore[attr-defined]  # redis-py >= 5; stubs lag


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
