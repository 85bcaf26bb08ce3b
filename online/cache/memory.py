"""The service's answer cache held in process memory (same contract as the Redis one)."""

from __future__ import annotations

import numpy as np

from core.cache.bounded import DEFAULT_CAPACITY
from core.cache.codec import CacheScope
from core.cache.memory import InMemoryAnswerStore
from core.cache.semantic import SemanticMirror
from online.cache.port import CandidateVerifier, SemanticHit, candidate_accepted
from shared_schemas.cache import CacheEntry


class InMemoryAnswerCache:
    """Async face of an :class:`InMemoryAnswerStore` (pass one to share it with a writer);
    bounded like the store (``capacity`` answers per scope, least recently used evicted)."""

    def __init__(
        self, store: InMemoryAnswerStore | None = None, *, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self.store = store or InMemoryAnswerStore(capacity=capacity)

    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        return self.store.get(scope, question_hash)

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
            entry = self.store.get(scope, qhash)
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
