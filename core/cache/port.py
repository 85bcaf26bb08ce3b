"""The answer-cache port: one contract over one Redis layout (``shared_schemas/layout.py``).

:class:`AnswerCache` (async) is the port: exact and semantic lookups, write-through, purge; the
service's answer path reads and writes through it. :class:`AnswerCacheSync` is its blocking view,
derived from it for processes without an event loop (``tandem cache warm``, the refine and judge
workers, ``tandem cache purge``): the exact side and the writes, same names and meaning, ``put``
returning the key it wrote. Each engine implements both faces over the same storage, so what one
face writes the other reads:

- redis: :class:`core.cache.redis.RedisAnswerCache`, its view
  :class:`core.cache.redis_sync.RedisAnswerCacheSync`;
- memory: :class:`core.cache.memory.MemoryAnswerCache`, its view
  :class:`core.cache.memory.MemoryAnswerCacheSync` (per process).

A view rather than a wrapper running the async adapter on a private event loop: that adapter's
state (the semantic mirrors, the decode memo, the batched uses) belongs to a serving loop and
means nothing to a writer, and the blocking clients keep their socket timeouts. Both faces share
the layout code (``core.cache.bounded``, ``core.cache.codec``), not the I/O.

``core.cache.factory`` builds either face for ``TANDEM_CACHE_BACKEND``. Every adapter passes
``tests/core/answer_cache_suite.py``. A backend failure is raised as ``CacheUnavailableError``
(``CacheSlowError``: Redis answered nothing in time); the service answers live instead, or 503.
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
    """Decides whether a cached question may answer the asked one (``core.matching.verifier``)."""

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
    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        """The live entry for a question in a scope, or None (missing, expired, unreadable)."""
        ...

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
    ) -> None:
        """Store ``entry`` under its versioned key (and its question vector on the semantic
        side). TTL: ``ttl_s``, else until ``entry.expires_at``, else none."""
        ...

    async def purge(self, scope: CacheScope | None = None) -> int:
        """Remove one scope's entries and vectors, or all of them; returns how many went."""
        ...

    async def purge_version(self, index_version: str) -> int:
        """Remove every scope of one index version (each arm, namespace, model and prompt);
        returns how many went."""
        ...


@runtime_checkable
class AnswerCacheSync(Protocol):
    """The blocking view of :class:`AnswerCache`: its exact side and its writes."""

    def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None: ...

    def put(
        self,
        entry: CacheEntry,
        question_vector: np.ndarray | None = None,
        *,
        ttl_s: int | None = None,
    ) -> str:
        """As :meth:`AnswerCache.put`; returns the key written."""
        ...

    def purge(self, scope: CacheScope | None = None) -> int: ...

    def purge_version(self, index_version: str) -> int: ...
