"""An in-process answer store with the same contract as the Redis one (TTL by a clock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from core.cache.codec import CacheScope, ttl_for
from shared_schemas.cache import CacheEntry


class InMemoryAnswerStore:
    """Entries by key with an expiry, and per-scope question vectors (the semantic side)."""

    def __init__(
        self, *, default_ttl_s: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.default_ttl_s = default_ttl_s
        self.clock = clock
        self._entries: dict[str, tuple[CacheEntry, float | None]] = {}
        self._vectors: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def put(
        self,
        entry: CacheEntry,
        question_vector: np.ndarray | None = None,
        *,
        ttl_s: int | None = None,
    ) -> str:
        scope = CacheScope.of(entry)
        key = scope.key(entry.normalized_key)
        ttl = ttl_for(entry, ttl_s if ttl_s is not None else self.default_ttl_s)
        expires = self.clock() + ttl if ttl else None
        with self._lock:
            self._entries[key] = (entry, expires)
            if question_vector is not None:
                vec = np.asarray(question_vector, dtype=np.float32).reshape(-1).copy()
                self._vectors.setdefault(scope.semantic_key(), {})[entry.normalized_key] = vec
        return key

    def get(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        key = scope.key(question_hash)
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                return None
            entry, expires = item
            if expires is not None and self.clock() >= expires:
                del self._entries[key]
                return None
            return entry

    def vectors(self, scope: CacheScope) -> dict[str, np.ndarray]:
        """The question vectors recorded for a scope (hash -> vector), a copy."""
        with self._lock:
            return dict(self._vectors.get(scope.semantic_key(), {}))

    def forget_vector(self, scope: CacheScope, question_hash: str) -> None:
        with self._lock:
            self._vectors.get(scope.semantic_key(), {}).pop(question_hash, None)

    def purge(self, scope: CacheScope | None = None) -> int:
        with self._lock:
            if scope is None:
                removed = len(self._entries) + len(self._vectors)
                self._entries.clear()
                self._vectors.clear()
                return removed
            prefix = scope.key("")
            keys = [k for k in self._entries if k.startswith(prefix)]
            for k in keys:
                del self._entries[k]
            had_vectors = self._vectors.pop(scope.semantic_key(), None) is not None
            return len(keys) + int(had_vectors)
