"""The LLM port. Backends are blocking; :class:`online.llm.runner.GenerationRunner` runs them
off the event loop with bounded concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict, runtime_checkable


class ChatMessage(TypedDict):
    role: str
    content: str


#: why a generation ended: the model stopped (end of sequence, a stop string) or the token cap
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Sampling:
    """How tokens are chosen. The default (``temperature`` 0) is greedy decoding: the same prompt
    gives the same text, and ``top_p``/``seed`` do not matter. ``stop``: strings that end the
    answer where they first appear (left out of the text, as OpenAI does)."""

    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


GREEDY = Sampling()


@dataclass
class GenerationStats:
    """Filled in by a backend while it generates (tokens produced, the prompt's tokens, why it
    ended, the model that answered), and read by it: once ``cancelled`` is set (a timeout, a
    client gone) the backend stops at its next step and returns or raises; what it gives back
    then is ignored."""

    tokens: int = 0
    #: tokens of the prompt as the model saw it (chat template applied); 0 when unknown
    prompt_tokens: int = 0
    finish_reason: FinishReason = "stop"
    #: the model the server says answered (an upstream's response ``model``); None: ``model_id``
    model: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model. ``max_new_tokens`` caps the answer length; ``sampling`` None is greedy
    decoding (callers pass it only when it is not: a backend without sampling still answers the
    default requests)."""

    #: id of the model recorded in cache keys, responses and metrics
    model_id: str

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        """The whole answer. Raises ``LLMUnavailableError`` / ``LLMTimeoutError``. Stops early
        once ``stats.cancelled`` is set; fills ``stats`` (tokens, prompt tokens, finish reason)."""
        ...

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> Iterator[str]:
        """The answer as text pieces, in order. Same errors as :meth:`generate`."""
        ...

    def ready(self) -> bool:
        """True when the model can take a request now (loaded, circuit closed)."""
        ...

    def close(self) -> None: ...
