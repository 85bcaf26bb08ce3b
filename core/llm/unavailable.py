"""An LLM that is known not to work: stands in where a backend could not be built."""

from __future__ import annotations

from collections.abc import Iterator

from core.errors import LLMUnavailableError
from core.llm.base import ChatMessage, GenerationStats, Sampling


class UnavailableLLM:
    """Stands in for an arm's LLM that could not be built: every generation fails at once."""

    def __init__(self, model_id: str, reason: str) -> None:
        self.model_id = model_id
        self.reason = reason

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        raise LLMUnavailableError(self.reason)

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> Iterator[str]:
        raise LLMUnavailableError(self.reason)

    def ready(self) -> bool:
        return False

    def close(self) -> None:
        return None
