"""The service's answer-cache port (async): exact and semantic lookups, write-through, purge.

Adapters: :class:`online.cache.async_cache.AsyncRedisAnswerCache` (production) and
:class:`online.cache.memory.InMemoryAnswerCache` (unit tests, and a service run with no Redis).
Both pass ``tests/online/answer_cache_suite.py``. A backend failure is raised as
``CacheUnavailableError``; the pipeline turns it into a live answer, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from core.cache.codec import CacheScope
from core.matching.signature import question_signature
from shared_schemas.cache import CacheEntry


@dataclass(frozen=True)
class SemanticHit:
    entry: CacheEntry
    similarity: float


class CandidateVerifier(Protocol):
    """Decides whether a cached question may answer the asked one (``online.cache.verifier``)."""

    def accepts(self, asked: str, cached: str, cosine: float) -> bool: ...


def candidate_accepted(
    verifier: CandidateVerifier | None, asked: str, cached: str, cosine: float
) -> bool:
    """``verifier``'s decision; without one, whether the question signatures agree."""
    if verifier is not None:
        return verifier.accepts(asked, cached, cosine)
    return question_signature(cached).agrees_with(question_signature(asked))


@runtime_checkable
class AnswerCache(Protocol):
    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None: ...

    async def get_semantic(
        self,
        scope: CacheScope,
        question: str,
        vector: np.ndarray,
        *,
        threshold: float,
        verifier: CandidateVerifier | None = None,
    ) -> SemanticHit | None:
        """The nearest cached question at or above ``threshold`` that ``verifier`` accepts
        (None: that agrees on the question signature, ``core.matching.signature``)."""
        ...

    async def put(
        self, entry: CacheEntry, question_vector: np.ndarray | None, *, ttl_s: int | None
    ) -> None: ...

    async def purge(self, scope: CacheScope | None = None) -> int: ...
