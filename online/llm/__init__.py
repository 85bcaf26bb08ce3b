"""Language-model backends behind one interface (:class:`online.llm.base.LLMBackend`)."""

from online.llm.base import ChatMessage, GenerationStats, LLMBackend
from online.llm.runner import Generated, GenerationRunner

__all__ = ["ChatMessage", "Generated", "GenerationRunner", "GenerationStats", "LLMBackend"]
