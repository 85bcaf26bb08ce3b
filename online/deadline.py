"""Deadlines on the service's Redis operations: defined in :mod:`core.redis_clients` (the one
client factory, whose asyncio clients they bound); re-exported here for the online modules.

The asyncio client has no socket timeout of its own: redis-py enforces one with
``asyncio.wait_for``, a new task per command, which the cache-hit path cannot afford. Callers
bound each operation with :func:`deadline` (``asyncio.timeout``, no task) instead."""

from __future__ import annotations

from core.redis_clients import REDIS_OP_TIMEOUT_S, deadline

__all__ = ["REDIS_OP_TIMEOUT_S", "deadline"]
