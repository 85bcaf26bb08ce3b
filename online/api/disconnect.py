"""Stop work whose client has gone: a non-streaming answer (and a stream's first event, which a
route awaits before its ``StreamingResponse`` listens for the disconnect itself)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect
from starlette.types import Receive

T = TypeVar("T")

#: what a route answers to a client that has gone (nginx's "client closed request"; nobody reads it)
CLIENT_GONE_STATUS = 499


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # an error of work nobody waits for any more is not worth a warning


async def unless_client_leaves(receive: Receive, work: Awaitable[T]) -> T:
    """``await work``, cancelling it (a generation stops, its slot comes back) and raising
    :class:`ClientDisconnect` when the client disconnects first. Call it once the request body
    has been read: the next message from ``receive`` is then the disconnect."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            task.add_done_callback(_retrieve)
    if not task.done():
        # let it unwind (the runner cancels its generation) before the caller closes what it ran
        await asyncio.wait({task})
    if not task.cancelled():
        return task.result()
    raise ClientDisconnect()


async def closing(
    frames: AsyncIterator[bytes], events: AsyncGenerator[Any, None]
) -> AsyncIterator[bytes]:
    """``frames`` made from ``events``, closing ``events`` however the response ends: a client
    gone mid-stream stops the generation behind it now, not when the generator is collected."""
    try:
        async for frame in frames:
            yield frame
    finally:
        await events.aclose()
