"""Synchronous cache writer/reader, for batch precompute and the refinement worker.

``RedisAnswerCache(client).put(entry, question_vector)`` is what ``tandem cache warm`` calls: it
stores the entry under its versioned key with a TTL and records the question vector on the
semantic side, in one transaction, so a hot answer is reachable by both lookups at once.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from core.cache.codec import ANSWER_PREFIX, SEMANTIC_PREFIX, CacheScope, decode_entry, ttl_for
from core.cache.codec import encode_vector as _encode
from shared_schemas.cache import CacheEntry

log = logging.getLogger(__name__)


def queue_put(
    pipe: Any, entry: CacheEntry, question_vector: np.ndarray | None, ttl_s: int | None
) -> None:
    """Queue the commands that store one entry on a (sync or async) Redis pipeline."""
    scope = CacheScope.of(entry)
    key = scope.key(_hash_of(entry))
    ttl = ttl_for(entry, ttl_s)
    pipe.set(key, entry.dumps(), ex=ttl)
    if question_vector is not None:
        pipe.hset(scope.semantic_key(), _hash_of(entry), _encode(question_vector))


def _hash_of(entry: CacheEntry) -> str:
    return entry.normalized_key


class RedisAnswerCache:
    """Blocking Redis client version of the cache, for processes without an event loop."""

    def __init__(self, client: Any, *, default_ttl_s: int | None = None) -> None:
        self.client = client
        self.default_ttl_s = default_ttl_s

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
        pipe = self.client.pipeline(transaction=True)
        queue_put(pipe, entry, question_vector, ttl_s if ttl_s is not None else self.default_ttl_s)
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
        return [f"{ANSWER_PREFIX}:*", f"{SEMANTIC_PREFIX}:*"]
    return [scope.key("*"), scope.semantic_key()]


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
