"""Events the online service emits and the offline side mines."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared_schemas.base import VersionedModel

CacheOutcome = Literal["exact", "semantic", "miss", "unavailable"]


class QueryLogEvent(VersionedModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    query_id: str
    question: str
    normalized_key: str
    ts: datetime
    cache: CacheOutcome
    index_version: str | None = None
    variant: str = "default"
    user_id: str | None = None
    latency_ms: float = Field(ge=0)
    status: Literal["ok", "degraded", "error"] = "ok"
    degraded_reason: str | None = None
    source_chunk_ids: tuple[str, ...] = ()


class FeedbackEvent(VersionedModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1
    query_id: str = Field(min_length=1)
    rating: int = Field(ge=-1, le=1, description="-1 bad, 0 neutral, 1 good")
    comment: str | None = Field(default=None, max_length=4000)
    ts: datetime
    variant: str = "default"
