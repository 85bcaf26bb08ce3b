"""An in-process answer store with the same contract as the Redis one (TTL by a clock).

Bounded like the Redis store (``core.cache.bounded``): at most ``capacity`` answers per scope,
the least recently used (written or read) evicted with its vector; a vector goes when its answer
expires.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from core.cache.bounded import DEFAULT_CAPACITY
from core.cache.codec import CacheScope, ttl_for
from shared_schemas.cache import CacheEntry


class _Scope:
    """One scope's entries in use order (oldest first) and its question vectors."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[CacheEntry, float | None]] = OrderedDict()
        self.vectors: dict[str, np.ndarray] = {}

    def drop(self, question_hash: str) -> None:
        self.entries.pop(question_hash, None)
        self.vectors.pop(question_hash, None)


class InMemoryAnswerStore:
    """Entries by scope and question with an expiry, and per-scope question vectors."""

    def __init__(
        self,
        *,
        default_ttl_s: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.default_ttl_s = default_ttl_s
        self.clock = clock
        self.capacity = capacity
        self._scopes: dict[CacheScope, _Scope] = {}
        self._expiries: list[tuple[float, int, CacheScope, str]] = []  # a heap
        self._order = itertools.count()
        self._lock = threading.Lock()

    def put(
        self,
        entry: CacheEntry,
        question_vector: np.ndarray | None = None,
        *,
        ttl_s: int | None = None,
    ) -> str:
        scope = CacheScope.of(entry)
        qhash = entry.normalized_key
        ttl = ttl_for(entry, ttl_s if ttl_s is not None else self.default_ttl_s)
        now = self.clock()
        expires = now + ttl if ttl else None
        with self._lock:
            self._sweep(now)
            held = self._scopes.setdefault(scope, _Scope())
            held.entries[qhash] = (entry, expires)
            held.entries.move_to_end(qhash)
            if expires is not None:
                heapq.heappush(self._expiries, (expires, next(self._order), scope, qhash))
            if question_vector is not None:
                vec = np.asarray(question_vector, dtype=np.float32).reshape(-1).copy()
                held.vectors[qhash] = vec
            while self.capacity > 0 and len(held.entries) > self.capacity:
                oldest = next(iter(held.entries))
                held.drop(oldest)
        return scope.key(qhash)

    def _sweep(self, now: float) -> None:
        """Drop entries (and vectors) whose time has come; the heap may hold stale items."""
        while self._expiries and self._expiries[0][0] <= now:
            expires, _, scope, qhash = heapq.heappop(self._expiries)
            held = self._scopes.get(scope)
            item = held.entries.get(qhash) if held else None
            if held is not None and item is not None and item[1] == expires:
                held.drop(qhash)

    def get(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        """The live entry (a read counts as a use for eviction)."""
        with self._lock:
            held = self._scopes.get(scope)
            item = held.entries.get(question_hash) if held else None
            if held is None or item is None:
                return None
            entry, expires = item
            if expires is not None and self.clock() >= expires:
                held.drop(question_hash)
                return None
            held.entries.move_to_end(question_hash)
            return entry

    def vectors(self, scope: CacheScope) -> dict[str, np.ndarray]:
        """The question vectors recorded for a scope (hash -> vector), a copy."""
        with self._lock:
            self._sweep(self.clock())
            held = self._scopes.get(scope)
            return dict(held.vectors) if held else {}

    def count(self, scope: CacheScope) -> int:
        """Answers held in a scope."""
        with self._lock:
            held = self._scopes.get(scope)
            return len(held.entries) if held else 0

    def forget_vector(self, scope: CacheScope, question_hash: str) -> None:
        with self._lock:
            held = self._scopes.get(scope)
            if held is not None:
                held.vectors.pop(question_hash, None)

    def purge(self, scope: CacheScope | None = None) -> int:
        with self._lock:
            if scope is None:
                removed = sum(len(h.entries) + bool(h.vectors) for h in self._scopes.values())
                self._scopes.clear()
                self._expiries.clear()
                return removed
            held = self._scopes.pop(scope, None)
            return len(held.entries) + bool(held.vectors) if held else 0
