from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from batch.query_log import day_bounds_ms, iter_events, iter_events_between, top_questions
from shared_schemas import QueryLogEvent
from shared_schemas.hashing import normalize_question
from shared_schemas.layout import QUERY_LOG_STREAM

pytestmark = pytest.mark.integration


STREAM = f"{QUERY_LOG_STREAM}:test-{uuid.uuid4().hex[:8]}"
_SEQ = iter(range(1, 1_000_000))


def _log(client: Any, question: str, ts: datetime, *, status: str = "ok") -> None:
    ev = QueryLogEvent(
        query_id=uuid.uuid4().hex,
        question=question,
        normalized_key=normalize_question(question),
        ts=ts,
        cache="miss",
        latency_ms=3.0,
        status=status,  # type: ignore[arg-type]
    )
    ms = int(ts.timestamp() * 1000)
    client.xadd(STREAM, {"event": ev.dumps()}, id=f"{ms}-{next(_SEQ)}")


def test_top_questions_of_one_day_only(redis_client: Any) -> None:
    day = date(2026, 11, 20)
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    for _ in range(5):  # the day before does not count
        _log(redis_client, "Other day?", datetime(2026, 11, 19, 23, 59, tzinfo=UTC))
    for q in ["Who won?", "who won", "WHO WON?", "Where is it?", "Where is it?", "Why?"]:
        _log(redis_client, q, at)
    _log(redis_client, "Why?", at, status="error")
    bad = '{"schema_version": 9}'  # an unknown version is skipped, not fatal
    redis_client.xadd(STREAM, {"event": bad}, id=f"{int(at.timestamp() * 1000)}-{next(_SEQ)}")
    for _ in range(5):  # nor does the day after
        _log(redis_client, "Other day?", datetime(2026, 11, 21, 0, 0, tzinfo=UTC))

    hot = top_questions(iter_events(redis_client, day, stream=STREAM, page=2), k=2)
    assert [(h.normalized_key, h.count) for h in hot] == [("who won", 3), ("where is it", 2)]
    assert hot[0].question in {"Who won?", "who won", "WHO WON?"}


def test_day_bounds_cover_24_hours() -> None:
    lo, hi = day_bounds_ms(date(2026, 1, 1))
    assert hi - lo + 1 == 86_400_000


def test_events_between_is_half_open(redis_client: Any) -> None:
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)
    start_ms = int(start.timestamp() * 1000)
    for offset_ms, q in [(-1, "before"), (0, "first"), (999, "last"), (1000, "after")]:
        ev = QueryLogEvent(
            query_id=uuid.uuid4().hex,
            question=q,
            normalized_key=q,
            ts=start,
            cache="miss",
            latency_ms=1.0,
        )
        redis_client.xadd(STREAM, {"event": ev.dumps()}, id=f"{start_ms + offset_ms}-{next(_SEQ)}")
    got = iter_events_between(redis_client, start_ms, start_ms + 1000, stream=STREAM, page=1)
    assert [e.question for e in got] == ["first", "last"]
    assert list(iter_events_between(redis_client, start_ms, start_ms, stream=STREAM)) == []
