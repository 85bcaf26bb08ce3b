"""Reading the query-log and feedback streams (field ``event`` = JSON of the contract)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from shared_schemas.base import SchemaError, VersionedModel

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=VersionedModel)
EVENT_FIELD = b"event"


@dataclass(frozen=True)
class StreamRead(Generic[M]):
    events: list[M]
    skipped: int  # entries without an ``event`` field or with an unreadable one


def stream_id_at(ts: datetime) -> str:
    """The smallest stream id at or after ``ts`` (ids start with milliseconds since epoch)."""
    return f"{int(ts.timestamp() * 1000)}-0"


def read_stream(
    client: Any,
    stream: str,
    model: type[M],
    *,
    since: datetime | None = None,
    limit: int | None = None,
    page: int = 1000,
) -> StreamRead[M]:
    """Every entry of ``stream`` from ``since`` on (oldest first, at most ``limit``).

    A bad entry is skipped and counted, never fatal: one malformed event must not hide a report.
    """
    start = stream_id_at(since) if since is not None else "-"
    events: list[M] = []
    skipped = 0
    while limit is None or len(events) + skipped < limit:
        want = page if limit is None else min(page, limit - len(events) - skipped)
        batch = client.xrange(stream, min=start, max="+", count=want)
        if not batch:
            break
        for entry_id, fields in batch:
            raw = fields.get(EVENT_FIELD, fields.get("event"))
            if raw is None:
                skipped += 1
                continue
            try:
                events.append(model.parse(raw))
            except SchemaError as exc:
                skipped += 1
                logger.debug("skipping stream %s entry %s: %s", stream, entry_id, exc)
        last = batch[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
        if len(batch) < want:
            break
    if skipped:
        logger.warning("stream %s: skipped %s unreadable entries", stream, skipped)
    return StreamRead(events, skipped)
