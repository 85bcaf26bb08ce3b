"""The one answer computation: embed → search → prompt → generate → :class:`ComputedAnswer`.

:class:`Answerer` holds the encoder, the LLM and the settings that shape an answer. Each step is
one method here, and :meth:`Answerer.answer_once` (blocking) chains them: batch warm, the refine
worker and the service's live miss all use these same steps (the service generates through its
bounded runner, then calls :meth:`Answerer.computed`), so a precomputed, a refined and a live
answer to the same question with the same configuration are the same cache entry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import numpy as np

from core.cache.codec import CacheScope
from core.encoder import TextEncoder
from core.index.search import Hit
from core.llm.base import ChatMessage, GenerationStats, LLMBackend
from core.prompt import PROMPTS, build_messages
from shared_schemas.cache import CacheEntry, CitedChunk
from shared_schemas.config import Tier
from shared_schemas.hashing import embedding_text, question_key_hash

Origin = Literal["batch", "live", "refined"]


class VectorIndex(Protocol):
    """The vector-index port: one loaded version that answers searches (``core.index``)."""

    @property
    def version(self) -> str: ...

    def search(
        self, query_vec: np.ndarray, query_text: str, k: int, *, lexical: bool = True
    ) -> list[Hit]: ...


@dataclass(frozen=True)
class AnswerConfig:
    """What shapes an answer besides the models: all of it is in the cache scope or the prompt."""

    embedding_model: str
    prompt_version: str
    top_k: int
    max_new_tokens: int
    context_chars: int | None = None
    #: the model id cache scopes are keyed by when the generating model is another one (the
    #: refine worker's larger model answers for the service's key); None: the LLM's own id
    scope_llm_model: str | None = None
    #: the tier whose model generates (recorded in each entry; ``fast`` for the service)
    tier: Tier = "fast"
    #: the prompt this tier generates with when it is not ``prompt_version`` (the key's: a
    #: deep answer is stored where the service looks it up, made with the deep model's prompt)
    generate_prompt_version: str | None = None

    @property
    def generating_prompt(self) -> str:
        return self.generate_prompt_version or self.prompt_version

    def __post_init__(self) -> None:
        """A prompt version may cap the answer length (p4's spans); the cap is part of it."""
        template = PROMPTS.get(self.generate_prompt_version or self.prompt_version)
        cap = template.max_new_tokens if template is not None else None
        if cap is not None and self.max_new_tokens > cap:
            object.__setattr__(self, "max_new_tokens", cap)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


@dataclass(frozen=True)
class ComputedAnswer:
    """An answer computed without HTTP: what batch precompute, the worker and live store."""

    question: str
    question_hash: str
    answer: str
    hits: tuple[Hit, ...]
    question_vector: np.ndarray
    index_version: str
    embedding_model: str
    llm_model: str
    prompt_version: str
    timings_ms: dict[str, float]
    tokens: int = 0
    #: the model that generated the answer when it is not ``llm_model`` (the key's)
    produced_by: str | None = None
    #: the tier whose model generated it
    tier: Tier | None = None

    def scope(self, namespace: str = "default") -> CacheScope:
        return CacheScope(
            index_version=self.index_version,
            embedding_model=self.embedding_model,
            llm_model=self.llm_model,
            prompt_version=self.prompt_version,
            namespace=namespace,
        )

    def to_cache_entry(
        self,
        *,
        origin: Origin = "batch",
        ttl_s: int | None = None,
        namespace: str = "default",
        now: datetime | None = None,
        alias_of: str | None = None,
    ) -> CacheEntry:
        created = now or datetime.now(UTC)
        return CacheEntry(
            question=self.question,
            normalized_key=self.question_hash,
            answer=self.answer,
            cited=tuple(
                CitedChunk(
                    chunk_id=h.chunk_id, doc_id=h.doc_id, content_hash=h.content_hash, score=h.score
                )
                for h in self.hits
            ),
            index_version=self.index_version,
            embedding_model=self.embedding_model,
            llm_model=self.llm_model,
            prompt_version=self.prompt_version,
            created_at=created,
            expires_at=created + timedelta(seconds=ttl_s) if ttl_s else None,
            origin=origin,
            namespace=namespace,
            produced_by=self.produced_by,
            tier=self.tier,
            alias_of=alias_of,
        )


class Answerer:
    """The encoder, the LLM and the :class:`AnswerConfig`: everything an answer is made of."""

    def __init__(self, *, encoder: TextEncoder, llm: LLMBackend, config: AnswerConfig) -> None:
        self.encoder = encoder
        self.llm = llm
        self.config = config

    def with_config(self, **changes: object) -> Answerer:
        """The same models with some settings changed (the refine worker's deeper answers)."""
        return Answerer(encoder=self.encoder, llm=self.llm, config=replace(self.config, **changes))  # type: ignore[arg-type]

    @property
    def llm_model(self) -> str:
        """The model id of this answerer's cache scopes."""
        return self.config.scope_llm_model or self.llm.model_id

    def scope(
        self,
        index_version: str,
        *,
        llm_model: str | None = None,
        prompt_version: str | None = None,
        namespace: str = "default",
    ) -> CacheScope:
        """The cache scope of an answer against ``index_version`` (defaults: this answerer's)."""
        return CacheScope(
            index_version=index_version,
            embedding_model=self.config.embedding_model,
            llm_model=llm_model or self.llm_model,
            prompt_version=prompt_version or self.config.prompt_version,
            namespace=namespace,
        )

    # ---- the steps ----
    def embed(self, question: str) -> np.ndarray:
        """The vector retrieval and the semantic cache read: the question's embedding form
        (:func:`~shared_schemas.hashing.embedding_text`: one "?" at the end)."""
        return self.encoder.encode([embedding_text(question)])[0]

    def retrieve(
        self, index: VectorIndex, question: str, vector: np.ndarray, *, top_k: int | None = None
    ) -> list[Hit]:
        return index.search(vector, question, top_k or self.config.top_k)

    def prompt(
        self,
        question: str,
        hits: Sequence[Hit],
        *,
        prompt_version: str | None = None,
        system: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> list[ChatMessage]:
        """The prompt of ``question``; ``system``/``history``: a chat client's own system
        message and earlier turns (see :func:`core.prompt.build_messages`)."""
        return build_messages(
            question,
            hits,
            prompt_version=prompt_version or self.config.generating_prompt,
            context_chars=self.config.context_chars,
            system=system,
            history=history,
        )

    def computed(
        self,
        question: str,
        answer: str,
        hits: Sequence[Hit],
        vector: np.ndarray,
        *,
        index_version: str,
        llm_model: str | None = None,
        prompt_version: str | None = None,
        timings_ms: dict[str, float] | None = None,
        tokens: int = 0,
        produced_by: str | None = None,
    ) -> ComputedAnswer:
        """The record of one answer, keyed by this answerer's scope and labelled with the
        model that produced it (``produced_by``, kept only when it is not the key's model)."""
        key_model = llm_model or self.llm_model
        return ComputedAnswer(
            question=question,
            question_hash=question_key_hash(question),
            answer=answer,
            hits=tuple(hits),
            question_vector=vector,
            index_version=index_version,
            embedding_model=self.config.embedding_model,
            llm_model=key_model,
            prompt_version=prompt_version or self.config.prompt_version,
            timings_ms=timings_ms or {},
            tokens=tokens,
            produced_by=produced_by if produced_by and produced_by != key_model else None,
            tier=self.config.tier,
        )

    # ---- all of them, blocking ----
    def answer_once(self, question: str, index: VectorIndex) -> ComputedAnswer:
        """Answer ``question`` against ``index`` with no cache and no HTTP (raises LLMError)."""
        t0 = time.perf_counter()
        vector = self.embed(question)
        t1 = time.perf_counter()
        hits = self.retrieve(index, question, vector)
        t2 = time.perf_counter()
        stats = GenerationStats()
        answer = self.llm.generate(
            self.prompt(question, hits), max_new_tokens=self.config.max_new_tokens, stats=stats
        )
        t3 = time.perf_counter()
        return self.computed(
            question,
            answer,
            hits,
            vector,
            index_version=index.version,
            timings_ms={"embed": _ms(t1 - t0), "search": _ms(t2 - t1), "generate": _ms(t3 - t2)},
            tokens=stats.tokens,
            produced_by=stats.model or self.llm.model_id,
        )
