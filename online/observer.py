"""Turns every answer into metrics and a query-log event."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from online.answers import AnswerRequest, AnswerResult, to_json_text
from online.experiments.service import Experiments
from online.metrics import ServiceMetrics
from online.querylog_writer import QueryLogWriter
from shared_schemas.events import QueryLogEvent


def _event_text(event: dict[str, Any]) -> str:
    """One query-log line: orjson (a tenth of the stdlib encoder's time on the hit path); the
    stdlib's as a fallback for text orjson refuses (a lone surrogate never gets this far, but
    an answer must not fail on its log line)."""
    try:
        return orjson.dumps(event).decode()
    except TypeError:
        event["ts"] = event["ts"].isoformat()
        return to_json_text(event)


class ServiceObserver:
    def __init__(
        self,
        metrics: ServiceMetrics,
        querylog: QueryLogWriter | None,
        experiments: Experiments | None = None,
    ) -> None:
        self.metrics = metrics
        self.querylog = querylog
        # one arm only: nothing to judge or remember per answer
        self.experiments = experiments if experiments and experiments.single is None else None
        #: answers given, by ``<cache>/<tier>`` (the replica's heartbeat: ``tandem status``)
        self.by_producer: Counter[str] = Counter()

    def answered(self, request: AnswerRequest, result: AnswerResult) -> None:
        status: Literal["ok", "degraded"] = "degraded" if result.degraded else "ok"
        self.metrics.answer_counter(
            result.cache, result.variant, status, result.index_version
        ).inc()
        if result.answer is not None:
            self.metrics.tier_counter(result.cache, result.tier).inc()
            self.by_producer[f"{result.cache}/{result.tier}"] += 1
        if self.experiments is not None:
            self.experiments.finished(
                result.query_id,
                result.variant,
                latency_ms=result.timings_ms.get("total", 0.0),
                error=result.degraded is not None,
                forced=request.forced,
            )
        if self.querylog is None:
            return
        self.querylog.append(
            _event_text(
                {  # QueryLogEvent v1, rendered without re-validating what we built (hot path)
                    "schema_version": QueryLogEvent.SCHEMA_VERSION,
                    "query_id": result.query_id,
                    "question": result.question,
                    "normalized_key": result.question_hash,
                    "ts": datetime.now(UTC),
                    "cache": result.cache,
                    "index_version": result.index_version,
                    "variant": result.variant,
                    "user_id": request.user_id,
                    "latency_ms": max(0.0, result.timings_ms.get("total", 0.0)),
                    "status": status,
                    "degraded_reason": result.degraded,
                    "source_chunk_ids": [s.chunk_id for s in result.sources],
                }
            )
        )

    def stage(self, name: str, seconds: float) -> None:
        self.metrics.stage.labels(stage=name).observe(seconds)

    def rejected(self) -> None:
        self.metrics.rejected.inc()

    def judgment(self, outcome: str) -> None:
        self.metrics.judgments.labels(outcome=outcome).inc()

    def cache_unavailable(self, operation: str) -> None:
        self.metrics.cache_unavailable.labels(operation=operation).inc()

    def local_answer(self, outcome: str) -> None:
        self.metrics.local_answers.labels(outcome=outcome).inc()
