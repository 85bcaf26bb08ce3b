"""A coarse deadline for the hot path: ``async with CoarseDeadline(1.0): await redis...``.

``asyncio.timeout`` schedules a timer per use (a handle pushed on the loop's heap, cancelled on
exit, swept later): about 3.5% of a cache hit's time, measured with py-spy on
``bench/bench_online.py --only hits``, for a deadline that almost never fires. Here each use is
two dictionary operations; one watchdog task per event loop wakes every ``TICK_S`` and cancels
the tasks whose deadline has passed, so a deadline fires up to ``TICK_S`` late. The semantics
are ``asyncio.timeout``'s: the body is cancelled, and the cancellation comes out of the ``async
with`` as :class:`TimeoutError` (a cancellation from elsewhere stays a cancellation). Deadlines
shorter than ``MIN_COARSE_S`` use ``asyncio.timeout`` itself, where a tick late would matter.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

#: how often the watchdog looks; a deadline fires at most this late
TICK_S = 0.05
#: below this, a tick late is too much: ``asyncio.timeout`` is used
MIN_COARSE_S = 0.25


class _Watchdog:
    """The deadlines of one event loop, and the task that enforces them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.live: dict[CoarseDeadline, float] = {}
        self.task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run(), name="tandem-deadline-watchdog")

    async def _run(self) -> None:
        while self.live:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for ctx, when in list(self.live.items()):
                if when <= now and not ctx.fired:
                    ctx.fire()
        self.task = None  # idle: the next deadline starts another


_watchdogs: dict[asyncio.AbstractEventLoop, _Watchdog] = {}


def _watchdog(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    dog = _watchdogs.get(loop)
    if dog is None:
        for old in [lp for lp in _watchdogs if lp.is_closed()]:
            del _watchdogs[old]
        dog = _watchdogs[loop] = _Watchdog(loop)
    return dog


class CoarseDeadline:
    """``async with CoarseDeadline(seconds):`` raises ``TimeoutError`` when the body runs past
    ``seconds`` (up to :data:`TICK_S` later). One use per instance."""

    __slots__ = ("_cancelling", "_dog", "_task", "fired", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._dog: _Watchdog | None = None

    def fire(self) -> None:
        self.fired = True
        if self._task is not None:
            self._task.cancel()

    async def __aenter__(self) -> CoarseDeadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("CoarseDeadline must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        dog = self._dog = _watchdog(task.get_loop())
        dog.live[self] = time.monotonic() + self.seconds
        dog.ensure_running()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._dog is not None
        assert self._task is not None
        self._dog.live.pop(self, None)
        # uncancel() first, whatever the exception: the cancellation this deadline asked for
        if (
            self.fired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError(f"deadline of {self.seconds}s passed") from exc


def deadline(seconds: float) -> Any:
    """The cheapest deadline that is precise enough for ``seconds``."""
    if seconds < MIN_COARSE_S:
        return asyncio.timeout(seconds)
    return CoarseDeadline(seconds)
