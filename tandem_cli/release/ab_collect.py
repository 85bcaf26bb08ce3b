"""Read the query-log and feedback streams from Redis and build the A/B report from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from online.experiments.report import ABReport


@dataclass(frozen=True)
class CollectedReport:
    report: ABReport
    skipped_querylog: int
    skipped_feedback: int


def collect_report(
    *,
    since_hours: float | None,
    baseline: str | None,
    confidence: float,
    bootstrap: int,
    limit: int | None,
) -> CollectedReport:
    """The report over the kept events (of the last ``since_hours``, at most ``limit`` each).

    Raises ``online.experiments.report.ReportError`` and ``redis.RedisError``.
    """

    from core.redis_clients import sync_redis
    from online.experiments.report import build_report
    from online.experiments.streams import read_stream
    from online.settings import get_settings
    from shared_schemas.events import FeedbackEvent, QueryLogEvent
    from shared_schemas.layout import FEEDBACK_STREAM, QUERY_LOG_STREAM

    settings = get_settings()
    since = datetime.now(UTC) - timedelta(hours=since_hours) if since_hours else None
    client = sync_redis(settings.redis_url, timeout_s=30)
    try:
        logs = read_stream(client, QUERY_LOG_STREAM, QueryLogEvent, since=since, limit=limit)
        fbs = read_stream(client, FEEDBACK_STREAM, FeedbackEvent, since=since, limit=limit)
    finally:
        client.close()
    report = build_report(
        logs.events, fbs.events, baseline=baseline, confidence=confidence, n_boot=bootstrap
    )
    return CollectedReport(report, logs.skipped, fbs.skipped)
