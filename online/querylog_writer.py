"""Query-log and feedback events into bounded Redis streams.

:class:`QueryLogWriter` buffers events in memory and a background task writes them in batches, so
the cache-hit path never waits on the log: events are written at most ``interval_s`` late, by one
scripted command per batch that appends one stream entry (field ``event``) per event, ``MAXLEN ~``
bounded. The batch travels as one argument, the events' JSON texts joined by newlines (JSON text
has none of its own outside whitespace), which costs the client far less than one per event.
A Redis outage drops events (counted: a batch is sent again a few times first, idempotently, so
an event that reached the stream is never counted as dropped); it never fails a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.redis_clients import REDIS_FAILURES, deadline
from online.errors import CacheUnavailableError
from shared_schemas.events import FeedbackEvent, QueryLogEvent
from shared_schemas.layout import FEEDBACK_STREAM, QUERY_LOG_STREAM, beside

log = logging.getLogger(__name__)

# One command per batch (ARGV[1]: events joined by newlines; ARGV[2]: MAXLEN), one stream entry
# per event (field ``event``), MAXLEN ~ bounded. KEYS[2] marks the batch as written (a short
# TTL): a batch sent again after a timeout whose first send did reach Redis is not written twice,
# and its events count as written, not dropped (-1).
_XADD_MANY = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) == false then
  return -1
end
local n = 0
for event in string.gmatch(ARGV[1], '[^\\n]+') do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', event)
  n = n + 1
end
return n
"""
#: how long a batch's written-marker lives: longer than every retry of it
_MARK_TTL_S = 300


@dataclass
class _Batch:
    items: list[str]
    mark: str
    attempts: int = 0


class QueryLogWriter:
    def __init__(
        self,
        redis: Any,
        *,
        maxlen: int,
        stream: str = QUERY_LOG_STREAM,
        buffer: int = 10_000,
        batch: int = 200,
        interval_s: float = 0.05,
        on_drop: Callable[[int], None] | None = None,
        write_timeout_s: float = 5.0,
        attempts: int = 3,
        retry_s: float = 0.5,
    ) -> None:
        """A batch whose write fails (Redis down, or a timeout: it may have been written) is
        sent again at the next flush, up to ``attempts`` sends; only then are its events
        counted as dropped. The send is idempotent, so ``dropped`` never counts an event that
        reached the stream."""
        self.redis = redis
        self.maxlen = maxlen
        self.stream = stream
        self.batch = batch
        self.interval_s = interval_s
        self._buf: deque[str] = deque()
        self._capacity = buffer
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_drop = on_drop
        self.write_timeout_s = write_timeout_s
        self.attempts = max(1, attempts)
        self.retry_s = retry_s
        self._pending: _Batch | None = None
        self.dropped = 0
        self._script = redis.register_script(_XADD_MANY)

    def append(self, event: QueryLogEvent | str) -> None:
        """Queue one event (a model, or its JSON text already rendered)."""
        if len(self._buf) >= self._capacity:
            self._buf.popleft()
            self._drop(1)
        text = event if isinstance(event, str) else event.dumps()
        if "\n" in text:  # only JSON whitespace can hold a raw newline: the batch separator
            text = text.replace("\n", " ")
        self._buf.append(text)
        self._wake.set()

    def _drop(self, n: int) -> None:
        self.dropped += n
        if self._on_drop:
            self._on_drop(n)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="querylog-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if len(self._buf) < self.batch:
                await asyncio.sleep(self.interval_s)  # gather a batch: one round trip for many
            self._wake.clear()
            await self.flush()
            if self._pending is not None or self._buf:  # a failed send: again after a pause
                await asyncio.sleep(self.retry_s)
                self._wake.set()

    async def flush(self) -> int:
        """Write everything buffered now; returns events written (a batch found already
        written by a send that timed out counts here, once)."""
        written = 0
        while self._pending is not None or self._buf:
            if self._pending is None:
                items = [self._buf.popleft() for _ in range(min(self.batch, len(self._buf)))]
                mark = beside(self.stream, f":batch:{secrets.token_hex(8)}")  # its slot
                self._pending = _Batch(items, mark)
            batch = self._pending
            batch.attempts += 1
            try:
                async with deadline(self.write_timeout_s):
                    await self._script(
                        keys=[self.stream, batch.mark],
                        args=["\n".join(batch.items), self.maxlen, _MARK_TTL_S],
                    )
            except REDIS_FAILURES as exc:
                if batch.attempts >= self.attempts:
                    log.warning(
                        "query log write failed %d times, %d events dropped: %s",
                        batch.attempts,
                        len(batch.items),
                        exc,
                    )
                    self._pending = None
                    self._drop(len(batch.items))
                else:
                    log.info("query log write failed (%s); the batch is sent again", exc)
                break
            written += len(batch.items)
            self._pending = None
        return written


async def append_feedback(redis: Any, event: FeedbackEvent, *, maxlen: int) -> str:
    try:
        async with deadline():
            entry_id = await redis.xadd(
                FEEDBACK_STREAM, {"event": event.dumps()}, maxlen=maxlen, approximate=True
            )
    except REDIS_FAILURES as exc:
        raise CacheUnavailableError(f"feedback store unavailable: {exc}") from exc
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
