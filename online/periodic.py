"""A background task that runs one coroutine every N seconds until stopped; a failing round is
logged and the next one runs on time (Redis down must not end a replica's heartbeat)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has ended (``None``: nothing to do)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Periodic:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged; the next round runs on time
                log.info("%s: round failed (%s: %s)", self.name, type(exc).__name__, exc)
