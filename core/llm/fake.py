"""A deterministic LLM with the LLMBackend contract: unit tests and demos with no model."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

from core.errors import LLMUnavailableError
from core.llm.base import GREEDY, ChatMessage, GenerationStats, Sampling
from core.llm.stops import cut_at_stop

_QUESTION = re.compile(r"Question: (.*)$", re.S)


class FakeLLM:
    """Answers ``"answer: <question>"``; can be made to fail, or to wait on a gate.

    A word is a token: the answer is cut to ``max_new_tokens`` words (``finish_reason``
    ``length``) and at its first stop string; the prompt's tokens are the words of its messages.
    ``last_max_new_tokens`` and ``last_sampling`` say what the last call was asked for.

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
        self.last_max_new_tokens = 0
        self.last_sampling: Sampling = GREEDY

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

    def _answer(
        self,
        messages: list[ChatMessage],
        stats: GenerationStats | None,
        max_new_tokens: int | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        self.calls += 1
        self.last_messages = messages
        self.last_max_new_tokens = max_new_tokens or 0
        self.last_sampling = sampling or GREEDY
        self.entered.set()
        self._wait_gate(stats)
        if self.fail:
            raise LLMUnavailableError("fake LLM is down")
        m = _QUESTION.search(messages[-1]["content"])
        text = f"answer: {m.group(1).strip() if m else '?'}"
        text, stopped = cut_at_stop(text, self.last_sampling.stop)
        words = text.split(" ")
        cut = max_new_tokens is not None and len(words) > max_new_tokens
        if stats is not None:
            stats.prompt_tokens = sum(len(str(x["content"]).split()) for x in messages)
            stats.finish_reason = "length" if cut and not stopped else "stop"
        return " ".join(words[:max_new_tokens] if cut else words).strip()

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        try:
            text = self._answer(messages, stats, max_new_tokens, sampling)
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
        sampling: Sampling | None = None,
    ) -> Iterator[str]:
        try:
            words = self._answer(messages, stats, max_new_tokens, sampling).split(" ")
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
