"""Documents and chunks: what ingest writes and every later step reads."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from shared_schemas.base import VersionedModel
from shared_schemas.hashing import chunk_id_for, content_hash


class Document(VersionedModel):
    """One source document after normalisation."""

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    doc_id: str = Field(min_length=1)
    title: str = ""
    text: str = Field(min_length=1)
    url: str | None = None
    source: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    content_hash: str = ""

    @model_validator(mode="after")
    def _fill_hash(self) -> Document:
        expected = content_hash(self.text)
        if not self.content_hash:
            object.__setattr__(self, "content_hash", expected)
        elif self.content_hash != expected:
            raise ValueError("content_hash does not match text")
        return self


class Chunk(VersionedModel):
    """A piece of a document sized for the embedding model; its id derives from content."""

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    chunk_id: str = ""
    doc_id: str = Field(min_length=1)
    ordinal: int = Field(ge=0)
    title: str = ""
    text: str = Field(min_length=1)
    content_hash: str = ""
    n_tokens: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _derive_ids(self) -> Chunk:
        digest = content_hash(self.text)
        if not self.content_hash:
            object.__setattr__(self, "content_hash", digest)
        elif self.content_hash != digest:
            raise ValueError("content_hash does not match text")
        from shared_schemas.hashing import normalize_text

        cid = chunk_id_for(self.doc_id, normalize_text(self.text))
        if not self.chunk_id:
            object.__setattr__(self, "chunk_id", cid)
        elif self.chunk_id != cid:
            raise ValueError("chunk_id is not derived from doc_id and content")
        return self
