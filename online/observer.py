"""Turns every answer into metrics and a query-log event."""

from __future__ import annotations

from datetime import UTC, datetime

from online.answers import AnswerRequest, AnswerResult
from online.metrics import ServiceMetrics
from online.querylog import QueryLogWriter
from shared_schemas.events import QueryLogEvent


class ServiceObserver:
    def __init__(self, metrics: ServiceMetrics, querylog: QueryLogWriter | None) -> None:
        self.metrics = metrics
        self.querylog = querylog

    def answered(self, request: AnswerRequest, result: AnswerResult) -> None:
        status = "degraded" if result.degraded else "ok"
        self.metrics.answers.labels(
            cache=result.cache,
            variant=result.variant,
            status=status,
            index_version=result.index_version,
        ).inc()
        if self.querylog is None:
            return
        self.querylog.append(
            QueryLogEvent(
                query_id=result.query_id,
                question=result.question,
                normalized_key=result.question_hash,
                ts=datetime.now(UTC),
                cache=result.cache,
                index_version=result.index_version,
                variant=result.variant,
                user_id=request.user_id,
                latency_ms=max(0.0, result.timings_ms.get("total", 0.0)),
                status=status,
                degraded_reason=result.degraded,
                source_chunk_ids=tuple(s.chunk_id for s in result.sources),
            )
        )

    def stage(self, name: str, seconds: float) -> None:
        self.metrics.stage.labels(stage=name).observe(seconds)

    def cache_unavailable(self, operation: str) -> None:
        self.metrics.cache_unavailable.labels(operation=operation).inc()
