"""The OpenAI-compatible client bound to an engine this process started and owns.

It restarts the engine (at most once per ``restart_after_s``) when the child has died, and stops
it on :meth:`close`; everything else is :class:`core.llm.upstream.OpenAICompatibleLLM`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from core.errors import LLMUnavailableError
from core.llm.base import ChatMessage, GenerationStats, Sampling
from core.llm.engine import EngineProcess
from core.llm.upstream import OpenAICompatibleLLM

log = logging.getLogger(__name__)


class ManagedEngineLLM(OpenAICompatibleLLM):
    def __init__(
        self,
        engine: EngineProcess,
        *,
        model_id: str,
        timeout_s: float = 60.0,
        restart_after_s: float = 5.0,
    ) -> None:
        super().__init__(
            engine.base_url, model_id=model_id, api_key=engine.api_key, timeout_s=timeout_s
        )
        self.engine = engine
        self.restart_after_s = restart_after_s
        self._restart_lock = threading.Lock()
        self._last_restart = 0.0
        self.breaker.record_success()  # the engine answered /health before we were built

    def _ensure_running(self) -> None:
        if self.engine.alive():
            return
        with self._restart_lock:
            now = time.monotonic()
            if self.engine.alive() or now - self._last_restart < self.restart_after_s:
                return
            self._last_restart = now
            log.warning("LLM engine is gone; restarting it")
            try:
                self.engine.start()
            except Exception as exc:  # the next call tries again after restart_after_s
                log.error("LLM engine restart failed: %s", exc)

    def ready(self) -> bool:
        return self.engine.alive() and super().ready()

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        """The whole answer, read from the engine as a stream: a caller that leaves (a client
        gone, a timeout: ``stats.cancel()``) closes it at the next token and the engine frees
        the slot. A plain request kept decoding to its token cap (issue 27 item 3: three
        abandoned chats held a slot 14 s)."""
        self._ensure_running()
        counter = stats if stats is not None else GenerationStats()
        text = "".join(
            super().stream(
                messages, max_new_tokens=max_new_tokens, stats=counter, sampling=sampling
            )
        )
        if counter.is_cancelled:
            raise LLMUnavailableError("generation cancelled")
        return text.strip()

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        self._ensure_running()
        return super().stream(*args, **kwargs)

    def close(self) -> None:
        super().close()
        self.engine.stop()
