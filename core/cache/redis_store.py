"""Synchronous cache writer/reader, for batch precompute and the refinement worker.

``RedisAnswerCache(client).put(entry, question_vector)`` is what ``tandem cache warm`` calls: it
stores the entry under its versioned key with a TTL and records the question vector on the
semantic side, in one script (``core.cache.bounded``), so a hot answer is reachable by both
lookups at once and the scope stays within its capacity.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from core.cache.bounded import DEFAULT_CAPACITY, queue_bounded_put
from core.cache.codec import ANSWER_PREFIX, CacheScope, decode_entry, ttl_for
from core.cache.codec import encode_vector as _encode
from shared_schemas.cache import CacheEntry
from shared_schemas.layout import (
    SEMANTIC_EXPIRY_PREFIX,
    SEMANTIC_LOG_PREFIX,
    SEMANTIC_LRU_PREFIX,
    SEMANTIC_META_PREFIX,
    SEMANTIC_PREFIX,
)

log = logging.getLogger(__name__)


def queue_put(
    pipe: Any,
    entry: CacheEntry,
    question_vector: np.ndarray | None,
    ttl_s: int | None,
    *,
    capacity: int = DEFAULT_CAPACITY,
) -> None:
    """Queue the script that stores one entry on a (sync or async) Redis pipeline."""
    queue_bounded_put(
        pipe,
        CacheScope.of(entry),
        entry.normalized_key,
        entry.dumps(),
        _encode(question_vector) if question_vector is not None else None,
        ttl_for(entry, ttl_s),
        capacity=capacity,
    )


class RedisAnswerCache:
    """Blocking Redis client version of the cache, for processes without an event loop."""

    def __init__(
        self,
        client: Any,
        *,
        default_ttl_s: int | None = None,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.client = client
        self.default_ttl_s = default_ttl_s
        self.capacity = capacity

    def put(
        self,
        entry: CacheEntry,
        question_vector: np.ndarray | None = None,
        *,
        ttl_s: int | None = None,
    ) -> str:
        """Store ``entry`` (key from its versions and ``normalized_key``); returns the key.

        ``entry.normalized_key`` must be ``hashing.question_key_hash(entry.question)``.
        TTL: ``ttl_s``, else ``default_ttl_s``, else until ``entry.expires_at``, else none.
        """
        pipe = self.client.pipeline(transaction=False)
        ttl = ttl_s if ttl_s is not None else self.default_ttl_s
        queue_put(pipe, entry, question_vector, ttl, capacity=self.capacity)
        pipe.execute()
        return CacheScope.of(entry).key(entry.normalized_key)

    def get(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        key = scope.key(question_hash)
        return decode_entry(self.client.get(key), key=key)

    def purge(self, scope: CacheScope | None = None) -> int:
        """Delete one scope's entries and vectors, or every cached answer; returns keys removed."""
        return purge_sync(self.client, scope)


def purge_patterns(scope: CacheScope | None) -> list[str]:
    if scope is None:
        side = (
            SEMANTIC_PREFIX,
            SEMANTIC_LRU_PREFIX,
            SEMANTIC_EXPIRY_PREFIX,
            SEMANTIC_LOG_PREFIX,
            SEMANTIC_META_PREFIX,
        )
        return [f"{ANSWER_PREFIX}:*", *(f"{p}:*" for p in side)]
    return [scope.key("*"), *scope.keys.all()]


def purge_sync(client: Any, scope: CacheScope | None) -> int:
    removed = 0
    for pattern in purge_patterns(scope):
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(client.delete(*batch))
                batch = []
        if batch:
            removed += int(client.delete(*batch))
    return removed
