"""Hot-answer cache entries, written by batch precompute and by the online service."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared_schemas.base import VersionedModel


class CitedChunk(VersionedModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    chunk_id: str
    doc_id: str = ""
    content_hash: str
    score: float = 0.0


class CacheEntry(VersionedModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    question: str = Field(min_length=1)
    normalized_key: str = Field(min_length=1)
    answer: str
    cited: tuple[CitedChunk, ...] = ()
    index_version: str
    embedding_model: str
    llm_model: str
    prompt_version: str
    created_at: datetime
    expires_at: datetime | None = None
    origin: Literal["batch", "live", "refined"] = "batch"
    namespace: str = "default"
    #: the model that generated ``answer`` when it is not the scope's ``llm_model`` (a refined
    #: answer from ``TANDEM_REFINE_LLM_MODEL``, as the server named itself); written only then,
    #: so readers of entries without it are unaffected
    produced_by: str | None = Field(default=None, exclude_if=lambda v: v is None)
    #: the model tier that generated ``answer`` (``fast``: a live answer; ``deep``: warmed or
    #: refined offline); written when known, so older readers and entries are unaffected
    tier: Literal["fast", "deep"] | None = Field(default=None, exclude_if=lambda v: v is None)
    #: for an alias (a paraphrase of a hot question the judge accepted, ``batch/expansion.py``):
    #: the key hash of the question whose answer it holds; written only for aliases
    alias_of: str | None = Field(default=None, exclude_if=lambda v: v is None)
