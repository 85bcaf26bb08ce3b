"""Read the online query log (a Redis stream of ``QueryLogEvent``) by day or time window."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared_schemas import QueryLogEvent, SchemaError
from shared_schemas.layout import QUERY_LOG_STREAM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HotQuestion:
    normalized_key: str
    question: str  # the most frequent spelling of the question
    count: int


def day_bounds_ms(day: date) -> tuple[int, int]:
    """Stream-id range (ms since epoch) of one UTC day: [start, end]."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1


def iter_events(
    client: Any, day: date, *, stream: str = QUERY_LOG_STREAM, page: int = 1000
) -> Iterator[QueryLogEvent]:
    """Every readable event logged on ``day`` (UTC); unreadable ones are skipped and logged."""
    lo, hi = day_bounds_ms(day)
    return iter_events_between(client, lo, hi + 1, stream=stream, page=page)


def iter_events_between(
    client: Any, start_ms: int, end_ms: int, *, stream: str = QUERY_LOG_STREAM, page: int = 1000
) -> Iterator[QueryLogEvent]:
    """Every readable event whose stream id (ms since epoch) is in ``[start_ms, end_ms)``."""
    cursor = f"{start_ms}-0"
    hi = f"{end_ms - 1}-18446744073709551615"
    skipped = 0
    while end_ms > start_ms:
        batch = client.xrange(stream, min=cursor, max=hi, count=page)
        if not batch:
            break
        for entry_id, fields in batch:
            raw = fields.get(b"event") or fields.get("event")
            try:
                yield QueryLogEvent.parse(raw)
            except SchemaError as exc:
                skipped += 1
                log.warning("query-log entry skipped id=%s reason=%s", entry_id, exc)
        last = batch[-1][0]
        last = last.decode() if isinstance(last, bytes) else last
        ms, seq = last.split("-")
        cursor = f"{ms}-{int(seq) + 1}"
        if len(batch) < page:
            break
    if skipped:
        log.warning(
            "query-log from_ms=%d to_ms=%d skipped=%d unreadable events", start_ms, end_ms, skipped
        )


def top_questions(events: Iterator[QueryLogEvent], k: int) -> list[HotQuestion]:
    """The ``k`` most asked normalised questions, ties broken by key for determinism."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for ev in events:
        if ev.status == "error":
            continue
        counts[ev.normalized_key] += 1
        spellings.setdefault(ev.normalized_key, Counter())[ev.question] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [
        HotQuestion(key, sorted(spellings[key].items(), key=lambda s: (-s[1], s[0]))[0][0], n)
        for key, n in ranked
    ]
