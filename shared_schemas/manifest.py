"""The manifest of a built index version: everything a reader needs to trust it."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared_schemas.base import VersionedModel


class ArtifactFile(VersionedModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    path: str = Field(description="file name relative to the version directory")
    sha256: str
    bytes: int = Field(ge=0)


class QualityMetrics(VersionedModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    recall_at_1: float | None = None
    recall_at_5: float | None = None
    recall_at_10: float | None = None
    mrr: float | None = None
    questions: int = 0
    labelled_set: str = ""
    gate_passed: bool | None = None
    gate_reason: str = ""


class IndexManifest(VersionedModel):
    """Describes one immutable index version directory."""

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    index_version: str = Field(min_length=1)
    embedding_model: str
    dimension: int = Field(gt=0)
    normalized: bool = True
    metric: Literal["inner_product", "l2"] = "inner_product"
    faiss_factory: str
    vector_count: int = Field(ge=0)
    chunk_set_digest: str
    source_snapshot: str = ""
    lexical: Literal["bm25", "none"] = "none"
    build_started_at: datetime
    build_finished_at: datetime
    built_on: Literal["cpu", "gpu"] = "cpu"
    artifacts: tuple[ArtifactFile, ...] = ()
    quality: QualityMetrics = Field(default_factory=QualityMetrics)

    def artifact(self, path: str) -> ArtifactFile:
        for art in self.artifacts:
            if art.path == path:
                return art
        raise KeyError(path)
