"""A deterministic LLM with the LLMBackend contract: unit tests and demos with no model."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from core.errors import LLMUnavailableError
from core.llm.base import ChatMessage, GenerationStats

_QUESTION = re.compile(r"Question: (.*)$", re.S)


class FakeLLM:
    """Answers ``"answer: <question>"``; can be made to fail, or to wait on a gate."""

    def __init__(self, model_id: str = "fake-llm") -> None:
        self.model_id = model_id
        self.fail = False
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.calls = 0
        self.last_messages: list[ChatMessage] = []

    def _answer(self, messages: list[ChatMessage]) -> str:
        self.calls += 1
        self.last_messages = messages
        self.entered.set()
        if self.gate is not None and not self.gate.wait(timeout=30):
            raise LLMUnavailableError("fake gate never opened")
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
        text = self._answer(messages)
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
        words = self._answer(messages).split(" ")
        for i, word in enumerate(words):
            if stats is not None:
                stats.tokens += 1
            yield word if i == 0 else " " + word

    def ready(self) -> bool:
        return not self.fail

    def close(self) -> None:
        return None
