"""The one place a process chooses its answer cache: ``TANDEM_CACHE_BACKEND`` (``redis``, the
default, or ``memory``), read by the service, the refine and judge workers, ``tandem cache warm``
and the CLI.

- :func:`answer_cache_for`: the port (async), for the service;
- :func:`answer_cache_sync_for`: its blocking view, for batch, the workers and the CLI.

``redis`` uses the client the caller passes (the service's and the workers' own), else opens one
on ``settings.redis_url``. ``memory`` is per process: every cache a process builds here shares
one in-process store (the first call's capacity), and nothing is shared with another process (a
replica, a worker, a warm run). It suits a single-process dev run and tests; the rest of the
service (query log, limits, jobs) still uses Redis.
"""

from __future__ import annotations

import threading
from typing import Any

from core.cache.bounded import DEFAULT_CAPACITY
from core.cache.memory import MemoryAnswerCache, MemoryAnswerCacheSync
from core.cache.port import AnswerCache, AnswerCacheSync
from core.cache.redis import DEFAULT_MEMO_ENTRIES, RedisAnswerCache
from core.cache.redis_sync import RedisAnswerCacheSync
from core.redis_clients import REDIS_OP_TIMEOUT_S, async_redis, sync_redis
from shared_schemas.config import CommonSettings

_memory: MemoryAnswerCacheSync | None = None
_memory_lock = threading.Lock()


def process_memory_cache(*, capacity: int = DEFAULT_CAPACITY) -> MemoryAnswerCacheSync:
    """This process's in-memory answer store (created on first use, with ``capacity``)."""
    global _memory
    with _memory_lock:
        if _memory is None:
            _memory = MemoryAnswerCacheSync(capacity=capacity)
        return _memory


def answer_cache_for(
    settings: CommonSettings,
    *,
    redis: Any | None = None,
    capacity: int = DEFAULT_CAPACITY,
    lookup_timeout_s: float = REDIS_OP_TIMEOUT_S,
    memo_entries: int = DEFAULT_MEMO_ENTRIES,
) -> AnswerCache:
    """The service's answer cache for ``settings.cache_backend`` (``redis``: on the asyncio
    client ``redis``, else one opened on ``settings.redis_url``)."""
    if settings.cache_backend == "memory":
        return MemoryAnswerCache(process_memory_cache(capacity=capacity))
    return RedisAnswerCache(
        redis if redis is not None else async_redis(settings.redis_url),
        capacity=capacity,
        lookup_timeout_s=lookup_timeout_s,
        memo_entries=memo_entries,
    )


def answer_cache_sync_for(
    settings: CommonSettings,
    *,
    redis: Any | None = None,
    capacity: int = DEFAULT_CAPACITY,
    timeout_s: float = 5.0,
) -> AnswerCacheSync:
    """The blocking view for ``settings.cache_backend`` (``redis``: on the blocking client
    ``redis``, else one opened on ``settings.redis_url`` with ``timeout_s``)."""
    if settings.cache_backend == "memory":
        return process_memory_cache(capacity=capacity)
    client = redis if redis is not None else sync_redis(settings.redis_url, timeout_s=timeout_s)
    return RedisAnswerCacheSync(client, capacity=capacity)
