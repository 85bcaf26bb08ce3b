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
from shared_schemas.cache import CacheEntry


@dataclass(frozen=True)
class SemanticHit:
    entry: CacheEntry
    similarity: float


@runtime_checkable
class AnswerCache(Protocol):
    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None: ...

    async def get_semantic(
        self, scope: CacheScope, question: str, vector: np.ndarray, *, threshold: float
    ) -> SemanticHit | None:
        """The nearest cached question at or above ``threshold`` that agrees on numbers/names."""
        ...

    async def put(
        self, entry: CacheEntry, question_vector: np.ndarray | None, *, ttl_s: int | None
    ) -> None: ...

    async def purge(self, scope: CacheScope | None = None) -> int: ...
