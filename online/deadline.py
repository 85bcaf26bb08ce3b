"""Deadlines on the service's Redis operations. The clients come from ``core.redis_clients``
(one node or a cluster): short timeouts, one immediate retry (a stale pooled connection after a
Redis restart), no long back-off, so a Redis outage degrades requests at once.

The asyncio client has no socket timeout of its own: redis-py enforces one with
``asyncio.wait_for``, a new task per command, which the cache-hit path cannot afford. Callers
bound each operation with :func:`deadline` (``asyncio.timeout``, no task) instead."""

from __future__ import annotations

import asyncio

REDIS_OP_TIMEOUT_S = 1.0


def deadline(seconds: float = REDIS_OP_TIMEOUT_S) -> asyncio.Timeout:
    """``async with deadline(): await redis...`` raises TimeoutError when Redis hangs."""
    return asyncio.timeout(seconds)
