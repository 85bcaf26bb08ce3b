"""Versioned contracts read and written by both the offline and the online side."""

from shared_schemas.base import SchemaError, SchemaVersionError, VersionedModel, read_model
from shared_schemas.cache import CacheEntry, CitedChunk
from shared_schemas.documents import Chunk, Document
from shared_schemas.events import FeedbackEvent, QueryLogEvent
from shared_schemas.manifest import AnswerQuality, ArtifactFile, IndexManifest, QualityMetrics

ALL_MODELS: tuple[type[VersionedModel], ...] = (
    Document,
    Chunk,
    ArtifactFile,
    AnswerQuality,
    QualityMetrics,
    IndexManifest,
    CitedChunk,
    CacheEntry,
    QueryLogEvent,
    FeedbackEvent,
)

__all__ = [
    "ALL_MODELS",
    "AnswerQuality",
    "ArtifactFile",
    "CacheEntry",
    "Chunk",
    "CitedChunk",
    "Document",
    "FeedbackEvent",
    "IndexManifest",
    "QualityMetrics",
    "QueryLogEvent",
    "SchemaError",
    "SchemaVersionError",
    "VersionedModel",
    "read_model",
]
