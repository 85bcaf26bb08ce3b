"""The blocking answer-store port: what batch warm and the refine worker write answers with.

Adapters: :class:`core.cache.redis_store.RedisAnswerCache` (production) and
:class:`core.cache.memory.InMemoryAnswerStore` (unit tests; also the storage behind the service's
in-memory cache). Both pass ``tests/core/answer_store_suite.py``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from core.cache.codec import CacheScope
from shared_schemas.cache import CacheEntry


@runtime_checkable
class AnswerStore(Protocol):
    def put(
        self,
        entry: CacheEntry,
        question_vector: np.ndarray | None = None,
        *,
        ttl_s: int | None = None,
    ) -> str:
        """Store ``entry`` under its versioned key (and its question vector on the semantic side);
        returns the key. TTL: ``ttl_s``, else the store's default, else until ``expires_at``."""
        ...

    def get(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        """The live entry for a question in a scope, or None (missing, expired, unreadable)."""
        ...

    def purge(self, scope: CacheScope | None = None) -> int:
        """Remove one scope's entries and vectors, or all of them; returns how many keys went."""
        ...
