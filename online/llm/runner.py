"""Runs a blocking :class:`LLMBackend` off the event loop with bounded concurrency.

At most ``concurrency`` generations run and ``queue`` more wait; beyond that a request is refused
at once with :class:`OverloadedError` (the API answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from core.llm.base import ChatMessage, FinishReason, GenerationStats, LLMBackend, Sampling
from online.errors import LLMError, LLMTimeoutError, LLMUnavailableError, OverloadedError

_DONE = object()


@dataclass(frozen=True)
class Generated:
    text: str
    tokens: int
    ttft_s: float
    total_s: float
    prompt_tokens: int = 0
    finish_reason: FinishReason = "stop"
    #: the model the backend says answered (an upstream's response ``model``), if it said
    model: str | None = None


def _sampling_kw(sampling: Sampling | None) -> dict[str, Sampling]:
    """``sampling=`` for the backend only when it is not greedy decoding (``None``), so a
    backend written before sampling existed still answers every default request."""
    return {} if sampling is None else {"sampling": sampling}


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

    async def _acquire(self) -> None:
        """Take one of the ``concurrency`` slots (waiting in the queue for one); the caller hands
        it back with :meth:`_release` once its generation thread has ended."""
        self.check_room()
        self._admitted += 1
        try:
            await self._sem.acquire()
        except BaseException:
            self._admitted -= 1
            raise

    def _release(self) -> None:
        self._sem.release()
        self._admitted -= 1

    async def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        sampling: Sampling | None = None,
    ) -> Generated:
        """The whole answer. On a timeout, or when the awaiting task is cancelled (the client
        left), the generation is cancelled; its slot is freed when its thread has stopped."""
        await self._acquire()
        stats = GenerationStats()
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            work = loop.run_in_executor(
                None,
                functools.partial(
                    self.llm.generate,
                    messages,
                    max_new_tokens=max_new_tokens,
                    stats=stats,
                    **_sampling_kw(sampling),
                ),
            )
        except BaseException:
            self._release()
            raise
        work.add_done_callback(self._thread_ended)  # shielded below: it fires when the thread ends
        try:
            text = await asyncio.wait_for(asyncio.shield(work), timeout=self.timeout_s)
        except TimeoutError as exc:
            stats.cancel()
            raise LLMTimeoutError(f"generation took over {self.timeout_s:.0f}s") from exc
        except asyncio.CancelledError:
            stats.cancel()
            raise
        except LLMError:
            raise
        except Exception as exc:  # a backend bug must not become a 500
            raise LLMUnavailableError(f"generation failed: {exc}") from exc
        total = time.perf_counter() - t0
        result = Generated(
            text, stats.tokens, total, total, stats.prompt_tokens, stats.finish_reason, stats.model
        )
        if self._observe:
            self._observe(result.ttft_s, result.tokens, result.total_s)
        return result

    def _thread_ended(self, work: asyncio.Future[str]) -> None:
        self._release()
        if not work.cancelled():
            work.exception()  # retrieved: a cancelled generation's error is expected, not logged

    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        sampling: Sampling | None = None,
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        """Text pieces as the model produces them (admission is checked before the first). When
        the consumer stops early (timeout, client gone) the generation is cancelled; its slot is
        freed when its thread has stopped. ``stats``: filled in as the backend generates (token
        counts and finish reason are final once the pieces have ended)."""
        await self._acquire()
        stats = stats if stats is not None else GenerationStats()
        t0 = time.perf_counter()
        ttft: float | None = None
        try:
            source = self.llm.stream(
                messages, max_new_tokens=max_new_tokens, stats=stats, **_sampling_kw(sampling)
            )
        except BaseException:
            self._release()
            raise
        pieces = _iterate_in_thread(
            source, stats=stats, timeout_s=self.timeout_s, on_end=self._release
        )
        try:
            async for piece in pieces:
                if ttft is None:
                    ttft = time.perf_counter() - t0
                yield piece
        finally:
            await pieces.aclose()  # a consumer gone early: its finally cancels the generation
        total = time.perf_counter() - t0
        if self._observe:
            self._observe(ttft if ttft is not None else total, stats.tokens, total)


async def _iterate_in_thread(
    source: Iterator[str],
    *,
    stats: GenerationStats,
    timeout_s: float,
    on_end: Callable[[], None],
) -> AsyncGenerator[str, None]:
    """Drain a blocking iterator in a thread, handing items to the event loop as they come.

    ``on_end`` runs on the loop once the thread has finished (the iterator closed); a consumer
    that stops before the end cancels ``stats``, so the backend stops at its next step.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def _call_soon(fn: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            loop.call_soon_threadsafe(fn, *args)

    def _pump() -> None:
        try:
            for item in source:
                if stats.is_cancelled:
                    break
                _call_soon(queue.put_nowait, item)
        except BaseException as exc:
            _call_soon(queue.put_nowait, exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's finally blocks run here (an upstream response closes)
            _call_soon(queue.put_nowait, _DONE)
            _call_soon(on_end)

    thread = threading.Thread(target=_pump, name="llm-stream-pump", daemon=True)
    try:
        thread.start()
    except BaseException:
        on_end()
        raise
    finished = False
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=timeout_s)
            except TimeoutError as exc:
                raise LLMTimeoutError(f"no token for {timeout_s:.0f}s") from exc
            if item is _DONE:
                finished = True
                return
            if isinstance(item, LLMError):
                raise item
            if isinstance(item, BaseException):
                raise LLMUnavailableError(f"generation failed: {item}") from item
            yield str(item)
    finally:
        if not finished:
            stats.cancel()
