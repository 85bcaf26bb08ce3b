"""The LLM port. Backends are blocking; :class:`online.llm.runner.GenerationRunner` runs them
off the event loop with bounded concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable


class ChatMessage(TypedDict):
    role: str
    content: str


@dataclass
class GenerationStats:
    """Filled in by a backend while it generates (tokens produced), and read by it: once
    ``cancelled`` is set (a timeout, a client gone) the backend stops at its next step and returns
    or raises; what it gives back then is ignored."""

    tokens: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model. Greedy decoding; ``max_new_tokens`` caps the answer length."""

    #: id of the model recorded in cache keys, responses and metrics
    model_id: str

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> str:
        """The whole answer. Raises ``LLMUnavailableError`` / ``LLMTimeoutError``. Stops early
        once ``stats.cancelled`` is set."""
        ...

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        """The answer as text pieces, in order. Same errors as :meth:`generate`."""
        ...

    def ready(self) -> bool:
        """True when the model can take a request now (loaded, circuit closed)."""
        ...

    def close(self) -> None: ...
