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


class AnswerQuality(VersionedModel):
    """Generated answers of one (prompt version, LLM) on a seeded sample of labelled questions
    (``tandem eval --answers``): SQuAD exact match and token F1 in points (0-100, as the official
    script prints them), shares as fractions, latency of the whole answer computation."""

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    prompt_version: str
    llm_model: str
    labelled_set: str = ""
    questions: int = Field(default=0, ge=0)
    seed: int = 0
    half: str = Field(default="", description="'' (all articles), 'tune' or 'test'")
    exact_match: float = Field(ge=0, le=100)
    f1: float = Field(ge=0, le=100)
    contains_gold: float = Field(ge=0, le=1, description="share of answers containing a gold one")
    cited_gold: float = Field(ge=0, le=1, description="share citing the gold paragraph")
    latency_ms_p50: float = Field(default=0.0, ge=0)
    latency_ms_p90: float = Field(default=0.0, ge=0)
    latency_ms_p99: float = Field(default=0.0, ge=0)
    gate_passed: bool | None = None
    gate_reason: str = ""
    #: each question's F1 (points, sample order): what a later candidate is compared with,
    #: question by question (the gate's paired bootstrap); written when known
    f1_per_question: tuple[float, ...] = Field(default=(), exclude_if=lambda v: not v)
    #: the tier whose model answered (``fast`` or ``deep``); written when known
    tier: str | None = Field(default=None, exclude_if=lambda v: v is None)

    def same_sample(self, other: AnswerQuality) -> bool:
        """Both measured with the same prompt, LLM and question sample (comparable F1)."""
        return (
            self.prompt_version,
            self.llm_model,
            self.labelled_set,
            self.questions,
            self.seed,
            self.half,
        ) == (
            other.prompt_version,
            other.llm_model,
            other.labelled_set,
            other.questions,
            other.seed,
            other.half,
        )


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
    answers: tuple[AnswerQuality, ...] = Field(
        default=(), description="answer quality, one record per prompt version, LLM and sample"
    )

    def answer_record(self, like: AnswerQuality) -> AnswerQuality | None:
        """The recorded answer quality measured on the same sample as ``like``, if any."""
        return next((a for a in self.answers if a.same_sample(like)), None)

    def with_answers(self, record: AnswerQuality) -> QualityMetrics:
        """These metrics with ``record`` replacing any record of the same sample."""
        kept = tuple(a for a in self.answers if not a.same_sample(record))
        return self.model_copy(update={"answers": (*kept, record)})


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
