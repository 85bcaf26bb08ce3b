"""Runs a blocking :class:`LLMBackend` off the event loop with bounded concurrency.

At most ``concurrency`` generations run and ``queue`` more wait; beyond that a request is refused
at once with :class:`OverloadedError` (the API answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.llm.base import ChatMessage, GenerationStats, LLMBackend
from online.errors import LLMError, LLMTimeoutError, LLMUnavailableError, OverloadedError

_DONE = object()


@dataclass(frozen=True)
class Generated:
    text: str
    tokens: int
    ttft_s: float
    total_s: float


ObserveFn = Callable[[float, int, float], None]  # (ttft_s, tokens, total_s)


class GenerationRunner:
    def __init__(
        self,
        llm: LLMBackend,
        *,
        concurrency: int,
        queue: int,
        timeout_s: float,
        observe: ObserveFn | None = None,
    ) -> None:
        self.llm = llm
        self.capacity = concurrency + queue
        self.timeout_s = timeout_s
        self._sem = asyncio.Semaphore(concurrency)
        self._admitted = 0
        self._observe = observe

    @property
    def model_id(self) -> str:
        return self.llm.model_id

    @property
    def in_flight(self) -> int:
        return self._admitted

    def check_room(self) -> None:
        """Raise :class:`OverloadedError` now if a generation would be refused (the pipeline
        asks before embedding and retrieval, so a refusal costs nothing)."""
        if self._admitted >= self.capacity:
            raise OverloadedError(
                f"generation queue is full ({self.capacity} admitted)", retry_after_s=2
            )

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        self.check_room()
        self._admitted += 1
        try:
            async with self._sem:
                yield
        finally:
            self._admitted -= 1

    async def generate(self, messages: list[ChatMessage], *, max_new_tokens: int) -> Generated:
        async with self._slot():
            stats = GenerationStats()
            t0 = time.perf_counter()
            try:
                text = await asyncio.wait_for(
                    asyncio.to_thread(
                        self.llm.generate, messages, max_new_tokens=max_new_tokens, stats=stats
                    ),
                    timeout=self.timeout_s,
                )
            except TimeoutError as exc:
                raise LLMTimeoutError(f"generation took over {self.timeout_s:.0f}s") from exc
            except LLMError:
                raise
            except Exception as exc:  # a backend bug must not become a 500
                raise LLMUnavailableError(f"generation failed: {exc}") from exc
            total = time.perf_counter() - t0
        result = Generated(text, stats.tokens, total, total)
        if self._observe:
            self._observe(result.ttft_s, result.tokens, result.total_s)
        return result

    async def stream(
        self, messages: list[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        """Text pieces as the model produces them (admission is checked before the first)."""
        async with self._slot():
            stats = GenerationStats()
            t0 = time.perf_counter()
            ttft: float | None = None
            source = self.llm.stream(messages, max_new_tokens=max_new_tokens, stats=stats)
            async for piece in _iterate_in_thread(source, timeout_s=self.timeout_s):
                if ttft is None:
                    ttft = time.perf_counter() - t0
                yield piece
            total = time.perf_counter() - t0
        if self._observe:
            self._observe(ttft if ttft is not None else total, stats.tokens, total)


async def _iterate_in_thread(source: Iterator[str], *, timeout_s: float) -> AsyncIterator[str]:
    """Drain a blocking iterator in a thread, handing items to the event loop as they come."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def _pump() -> None:
        try:
            for item in source:
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    thread = threading.Thread(target=_pump, name="llm-stream-pump", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=timeout_s)
            except TimeoutError as exc:
                raise LLMTimeoutError(f"no token for {timeout_s:.0f}s") from exc
            if item is _DONE:
                return
            if isinstance(item, LLMError):
                raise item
            if isinstance(item, BaseException):
                raise LLMUnavailableError(f"generation failed: {item}") from item
            yield str(item)
    finally:
        stop.set()
