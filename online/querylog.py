"""Query-log and feedback events into bounded Redis streams.

:class:`QueryLogWriter` buffers events in memory and a background task writes them in batches, so
the cache-hit path never waits on the log: events are written at most ``interval_s`` late, by one
scripted command per batch that appends one stream entry (field ``event``) per event, ``MAXLEN ~``
bounded. The batch travels as one argument, the events' JSON texts joined by newlines (JSON text
has none of its own outside whitespace), which costs the client far less than one per event.
A Redis outage drops events (counted); it never fails a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from online.errors import CacheUnavailableError
from online.redis_conn import deadline
from shared_schemas.events import FeedbackEvent, QueryLogEvent
from shared_schemas.layout import FEEDBACK_STREAM, QUERY_LOG_STREAM

log = logging.getLogger(__name__)

# One command per batch (ARGV[1]: events joined by newlines; ARGV[2]: MAXLEN), one stream entry
# per event (field ``event``), MAXLEN ~ bounded.
_XADD_MANY = """
local n = 0
for event in string.gmatch(ARGV[1], '[^\\n]+') do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', event)
  n = n + 1
end
return n
"""


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
    ) -> None:
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

    async def flush(self) -> int:
        """Write everything buffered now; returns events written."""
        written = 0
        while self._buf:
            items = [self._buf.popleft() for _ in range(min(self.batch, len(self._buf)))]
            try:
                async with deadline(5.0):
                    await self._script(keys=[self.stream], args=["\n".join(items), self.maxlen])
                written += len(items)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("query log write failed, %d events dropped: %s", len(items), exc)
                self._drop(len(items))
                break
        return written


async def append_feedback(redis: Any, event: FeedbackEvent, *, maxlen: int) -> str:
    try:
        async with deadline():
            entry_id = await redis.xadd(
                FEEDBACK_STREAM, {"event": event.dumps()}, maxlen=maxlen, approximate=True
            )
    except (RedisError, OSError, TimeoutError) as exc:
        raise CacheUnavailableError(f"feedback store unavailable: {exc}") from exc
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
