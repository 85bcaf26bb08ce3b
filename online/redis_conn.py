"""Redis clients for the service: short timeouts, one immediate retry (a stale pooled connection
after a Redis restart), and no long back-off, so a Redis outage degrades requests at once."""

from __future__ import annotations

from typing import Any


def async_redis(url: str, *, timeout_s: float = 1.0) -> Any:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_connect_timeout=min(0.5, timeout_s),
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
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
