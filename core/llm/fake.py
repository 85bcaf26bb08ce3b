"""A deterministic LLM with the LLMBackend contract: unit tests and demos with no model."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

from core.errors import LLMUnavailableError
from core.llm.base import ChatMessage, GenerationStats

_QUESTION = re.compile(r"Question: (.*)$", re.S)


class FakeLLM:
    """Answers ``"answer: <question>"``; can be made to fail, or to wait on a gate.

    A generation waiting on ``gate`` stops as soon as its ``stats.cancelled`` is set; ``exited``
    is set whenever a generation (or a stream) has ended, and ``cancelled`` counts those that
    stopped because they were cancelled.
    """

    #: how often a gate wait looks at the cancellation token (the fake's own step, not a test's)
    STEP_S = 0.01

    def __init__(self, model_id: str = "fake-llm") -> None:
        self.model_id = model_id
        self.fail = False
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.exited = threading.Event()
        self.calls = 0
        self.cancelled = 0
        self.last_messages: list[ChatMessage] = []

    def _wait_gate(self, stats: GenerationStats | None) -> None:
        gate = self.gate
        if gate is None:
            return
        deadline = time.monotonic() + 30
        while not gate.wait(timeout=self.STEP_S):
            if stats is not None and stats.is_cancelled:
                self.cancelled += 1
                raise LLMUnavailableError("fake generation cancelled")
            if time.monotonic() > deadline:
                raise LLMUnavailableError("fake gate never opened")

    def _answer(self, messages: list[ChatMessage], stats: GenerationStats | None) -> str:
        self.calls += 1
        self.last_messages = messages
        self.entered.set()
        self._wait_gate(stats)
        if self.fail:
            raise LLMUnavailableError("fake LLM is down")
        m = _QUESTION.search(messages[-1]["content"])
        return f"answer: {m.group(1).strip() if m else '?'}"

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> str:
        try:
            text = self._answer(messages, stats)
        finally:
            self.exited.set()
        if stats is not None:
            stats.tokens = len(text.split())
        return text

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        try:
            words = self._answer(messages, stats).split(" ")
            for i, word in enumerate(words):
                if stats is not None:
                    if stats.is_cancelled:
                        self.cancelled += 1
                        return
                    stats.tokens += 1
                yield word if i == 0 else " " + word
        finally:
            self.exited.set()

    def ready(self) -> bool:
        return not self.fail

    def close(self) -> None:
        return None
