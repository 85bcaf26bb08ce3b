"""Value objects of the answer path (no I/O)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from core.index import Hit
from core.llm.base import ChatMessage, FinishReason, Sampling
from shared_schemas.events import CacheOutcome

DEFAULT_VARIANT = "default"


#: JSON text of a value (non-ASCII kept), with one shared encoder instead of one per call
to_json_text = json.JSONEncoder(ensure_ascii=False).encode
_json_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _timings_text(timings: dict[str, float]) -> str:
    """``to_json_text(timings)`` to the byte for finite float values, without building an
    encoder per call (that was 4% of a cache hit's time)."""
    if all(type(v) is float and math.isfinite(v) for v in timings.values()):
        return "{" + ", ".join(f"{_json_str(k)}: {v!r}" for k, v in timings.items()) + "}"
    return to_json_text(timings)


_QID_KEY = os.urandom(32)
_QID_COUNTER = itertools.count()


def _reseed_query_ids() -> None:  # a forked worker must not repeat its parent's ids
    global _QID_KEY, _QID_COUNTER
    _QID_KEY, _QID_COUNTER = os.urandom(32), itertools.count()


os.register_at_fork(after_in_child=_reseed_query_ids)


def new_query_id() -> str:
    """32 hex digits, unguessable (keyed BLAKE2b of a counter): a cheaper ``uuid4().hex``."""
    n = next(_QID_COUNTER)
    return hashlib.blake2b(n.to_bytes(8, "little"), key=_QID_KEY, digest_size=16).hexdigest()


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
    return to_json_text([s.as_dict() for s in sources])


@dataclass(frozen=True)
class GenerationRequest:
    """What a chat client asks of its answer besides the question: its own system message,
    earlier turns, a length cap and sampling (``None``: greedy decoding, no stop strings)."""

    system: str | None = None
    history: tuple[ChatMessage, ...] = ()
    max_new_tokens: int | None = None
    sampling: Sampling | None = None

    def is_default(self, max_new_tokens: int) -> bool:
        """Does it ask for exactly the service's own answer (so the cache holds it)?"""
        return (
            not self.system
            and not self.history
            and self.sampling is None
            and self.max_new_tokens in (None, max_new_tokens)
        )


@dataclass(frozen=True)
class AnswerRequest:
    question: str
    top_k: int | None = None
    user_id: str | None = None
    variant: str = DEFAULT_VARIANT
    use_cache: bool = True
    query_id: str = field(default_factory=new_query_id)
    #: who the rate limits count it against (``key:<hash>`` or ``ip:<address>``); None: nobody
    client: str | None = None
    #: put in its variant by the override header: kept out of the canary guard's figures
    forced: bool = False
    #: a chat client's conversation and decoding; None: the service's own answer
    generation: GenerationRequest | None = None


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
    #: tokens the model read and wrote for this answer (0 and 0 for a cache hit: none ran)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: FinishReason = "stop"
    #: the model tier that produced ``answer``: ``fast`` (live), ``deep`` (warmed or refined)
    tier: str = "fast"
    #: served from this replica's own copy while Redis was unavailable: the copy's age
    stale_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "answer": self.answer,
            "sources": [s.as_dict() for s in self.sources],
            "cache": self.cache,
            "index_version": self.index_version,
            "models": {"embed": self.embed_model, "llm": self.llm_model, "tier": self.tier},
            "variant": self.variant,
            "query_id": self.query_id,
            "timings_ms": self.timings_ms,
        }
        if self.degraded:
            body["degraded"] = self.degraded
        if self.similarity is not None:
            body["similarity"] = round(self.similarity, 4)
        if self.stale_s is not None:
            body["stale_s"] = round(self.stale_s, 1)
        return body

    def to_json(self, extra: dict[str, Any] | None = None) -> bytes:
        """The API body (``as_dict`` as JSON), splicing in the pre-rendered sources if any."""
        if self.sources_json is None or extra:
            body = self.as_dict()
            if extra:
                body.update(extra)
            return to_json_text(body).encode()
        # cache hits: the same text as above, assembled from pieces (no dict, no list of sources)
        parts = [
            '{"answer": ',
            "null" if self.answer is None else _json_str(self.answer),
            ', "sources": ',
            self.sources_json,
            ', "cache": ',
            _json_str(self.cache),
            ', "index_version": ',
            _json_str(self.index_version),
            ', "models": {"embed": ',
            _json_str(self.embed_model),
            ', "llm": ',
            _json_str(self.llm_model),
            ', "tier": ',
            _json_str(self.tier),
            '}, "variant": ',
            _json_str(self.variant),
            ', "query_id": ',
            _json_str(self.query_id),
            ', "timings_ms": ',
            _timings_text(self.timings_ms),
        ]
        if self.degraded:
            parts += (', "degraded": ', _json_str(self.degraded))
        if self.similarity is not None:
            parts += (', "similarity": ', to_json_text(round(self.similarity, 4)))
        if self.stale_s is not None:
            parts += (', "stale_s": ', to_json_text(round(self.stale_s, 1)))
        parts.append("}")
        return "".join(parts).encode()
