"""Value objects of the answer path (no I/O)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from online.retrieval import Hit
from shared_schemas.cache import CacheEntry, CitedChunk
from shared_schemas.events import CacheOutcome

DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class Source:
    chunk_id: str
    doc_id: str
    title: str
    score: float
    text: str

    @classmethod
    def of(cls, hit: Hit) -> Source:
        return cls(hit.chunk_id, hit.doc_id, hit.title, hit.score, hit.text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "score": self.score,
            "text": self.text,
        }


def render_sources(sources: list[Source]) -> str:
    return json.dumps([s.as_dict() for s in sources], ensure_ascii=False)


@dataclass(frozen=True)
class AnswerRequest:
    question: str
    top_k: int | None = None
    user_id: str | None = None
    variant: str = DEFAULT_VARIANT
    use_cache: bool = True
    query_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class AnswerResult:
    query_id: str
    question: str
    question_hash: str
    answer: str | None
    sources: list[Source]
    cache: CacheOutcome
    index_version: str
    embed_model: str
    llm_model: str
    variant: str
    timings_ms: dict[str, float]
    degraded: str | None = None
    similarity: float | None = None
    #: the sources already rendered as a JSON array (cache hits reuse it)
    sources_json: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "answer": self.answer,
            "sources": [s.as_dict() for s in self.sources],
            "cache": self.cache,
            "index_version": self.index_version,
            "models": {"embed": self.embed_model, "llm": self.llm_model},
            "variant": self.variant,
            "query_id": self.query_id,
            "timings_ms": self.timings_ms,
        }
        if self.degraded:
            body["degraded"] = self.degraded
        if self.similarity is not None:
            body["similarity"] = round(self.similarity, 4)
        return body

    def to_json(self, extra: dict[str, Any] | None = None) -> bytes:
        """The API body, splicing in the pre-rendered sources when there are some."""
        body = self.as_dict()
        if extra:
            body.update(extra)
        if self.sources_json is None:
            return json.dumps(body, ensure_ascii=False).encode()
        body["sources"] = None
        head = json.dumps(body, ensure_ascii=False)
        return head.replace('"sources": null', '"sources": ' + self.sources_json, 1).encode()


@dataclass(frozen=True)
class ComputedAnswer:
    """A live answer computed without HTTP: what batch precompute and the worker store."""

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

    def to_cache_entry(
        self,
        *,
        origin: Literal["batch", "live", "refined"] = "batch",
        ttl_s: int | None = None,
        namespace: str = "default",
        now: datetime | None = None,
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
        )
