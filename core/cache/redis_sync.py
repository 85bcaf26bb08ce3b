"""The blocking view of the Redis answer cache, for processes without an event loop.

``RedisAnswerCacheSync(client).put(entry, question_vector)`` is what ``tandem cache warm`` calls:
it stores the entry under its versioned key with a TTL and records the question vector on the
semantic side, in one script (``core.cache.bounded``), so a hot answer is reachable by both
lookups of the service's :class:`core.cache.redis.RedisAnswerCache` at once and the scope stays
within its capacity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.cache.bounded import DEFAULT_CAPACITY, purge_patterns, queue_put, version_purge_patterns
from core.cache.codec import CacheScope, decode_entry
from shared_schemas.cache import CacheEntry


class RedisAnswerCacheSync:
    """The :class:`~core.cache.port.AnswerCacheSync` on a blocking Redis client."""

    def __init__(self, client: Any, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.client = client
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
        TTL: ``ttl_s``, else until ``entry.expires_at``, else none.
        """
        pipe = self.client.pipeline(transaction=False)
        queue_put(pipe, entry, question_vector, ttl_s, capacity=self.capacity)
        pipe.execute()
        return CacheScope.of(entry).key(entry.normalized_key)

    def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        key = scope.key(question_hash)
        return decode_entry(self.client.get(key), key=key)

    def purge(self, scope: CacheScope | None = None) -> int:
        """Delete one scope's entries and vectors, or every cached answer; returns keys removed."""
        return self._delete_matching(purge_patterns(scope))

    def purge_version(self, index_version: str) -> int:
        return self._delete_matching(version_purge_patterns(index_version))

    def _delete_matching(self, patterns: list[str]) -> int:
        removed = 0
        for pattern in patterns:
            batch: list[Any] = []
            for key in self.client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(self.client.delete(*batch))
                    batch = []
            if batch:
                removed += int(self.client.delete(*batch))
        return removed
