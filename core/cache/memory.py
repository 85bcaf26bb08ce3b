"""The answer cache held in process memory: :class:`MemoryAnswerCacheSync` holds the entries
and vectors (TTL by a clock), :class:`MemoryAnswerCache` is the async port over one of them.

Per process: nothing is shared with another process (a replica, a worker, ``tandem cache
warm``). Useful for a single-process dev run (``TANDEM_CACHE_BACKEND=memory``) and for tests.
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
from core.cache.port import CandidateVerifier, SemanticHit, candidate_accepted
from core.cache.semantic import SemanticMirror
from shared_schemas.cache import CacheEntry


class _Scope:
    """One scope's entries in use order (oldest first) and its question vectors."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[CacheEntry, float | None]] = OrderedDict()
        self.vectors: dict[str, np.ndarray] = {}

    def drop(self, question_hash: str) -> None:
        self.entries.pop(question_hash, None)
        self.vectors.pop(question_hash, None)


class MemoryAnswerCacheSync:
    """The blocking view (:class:`~core.cache.port.AnswerCacheSync`), and the storage: entries by
    scope and question with an expiry, and per-scope question vectors."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
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
        ttl = ttl_for(entry, ttl_s)
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

    def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
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

    def purge_version(self, index_version: str) -> int:
        from core.index.version import IndexVersion  # ValueError: not a version name

        IndexVersion.parse(index_version)
        scopes = [scope for scope in list(self._scopes) if scope.index_version == index_version]
        return sum(self.purge(scope) for scope in scopes)


class MemoryAnswerCache:
    """The :class:`~core.cache.port.AnswerCache` over a :class:`MemoryAnswerCacheSync` (pass one
    to share it with a blocking writer); bounded like it (``capacity`` answers per scope)."""

    def __init__(
        self, store: MemoryAnswerCacheSync | None = None, *, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self.store = store or MemoryAnswerCacheSync(capacity=capacity)

    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        return self.store.get_exact(scope, question_hash)

    async def get_semantic(
        self,
        scope: CacheScope,
        question: str,
        vector: np.ndarray,
        *,
        threshold: float,
        verifier: CandidateVerifier | None = None,
    ) -> SemanticHit | None:
        vectors = {
            h: v for h, v in self.store.vectors(scope).items() if v.size == np.asarray(vector).size
        }
        if not vectors:
            return None
        # built per lookup: a full scan (training inverted lists would cost more than it saves)
        mirror = SemanticMirror(int(np.asarray(vector).size), coarse_min_rows=0)
        mirror.replace(vectors)
        for qhash, sim in mirror.nearest(vector, threshold=threshold):
            entry = self.store.get_exact(scope, qhash)
            if entry is None:
                self.store.forget_vector(scope, qhash)
                continue
            if candidate_accepted(verifier, question, entry.question, sim):
                return SemanticHit(entry, sim)
        return None

    async def put(
        self, entry: CacheEntry, question_vector: np.ndarray | None, *, ttl_s: int | None
    ) -> None:
        self.store.put(entry, question_vector, ttl_s=ttl_s)

    async def purge(self, scope: CacheScope | None = None) -> int:
        return self.store.purge(scope)

    async def purge_version(self, index_version: str) -> int:
        return self.store.purge_version(index_version)
