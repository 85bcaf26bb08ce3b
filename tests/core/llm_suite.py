"""Conformance suite of the LLMBackend port: local, upstream and fake backends subclass it."""

from __future__ import annotations

from core.llm.base import ChatMessage, GenerationStats, LLMBackend

MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "Context:\n[1] Paris\nParis is in France.\n\nQuestion: Where?"},
]


class LLMBackendContract:
    """Subclasses provide a fixture ``llm`` (greedy decoding: the same prompt, the same text)."""

    MAX_NEW_TOKENS = 12
    #: False where the server behind an adapter reports no usage (the adapter passes on its 0)
    COUNTS_TOKENS = True

    def test_is_an_llm_backend(self, llm: LLMBackend) -> None:
        assert isinstance(llm, LLMBackend)
        assert isinstance(llm.model_id, str)
        assert llm.model_id
        llm.generate(MESSAGES, max_new_tokens=self.MAX_NEW_TOKENS)
        assert llm.ready()  # once it has answered (an upstream is not ready before it was reached)

    def test_generate_is_non_empty_and_counts_tokens(self, llm: LLMBackend) -> None:
        stats = GenerationStats()
        text = llm.generate(MESSAGES, max_new_tokens=self.MAX_NEW_TOKENS, stats=stats)
        assert isinstance(text, str)
        assert text.strip() == text
        assert text
        assert 0 <= stats.tokens <= self.MAX_NEW_TOKENS
        if self.COUNTS_TOKENS:
            assert stats.tokens > 0

    def test_stream_gives_the_generated_text_in_pieces(self, llm: LLMBackend) -> None:
        whole = llm.generate(MESSAGES, max_new_tokens=self.MAX_NEW_TOKENS)
        pieces = list(llm.stream(MESSAGES, max_new_tokens=self.MAX_NEW_TOKENS))
        assert pieces
        assert all(isinstance(p, str) for p in pieces)
        assert "".join(pieces).strip() == whole
