"""Context choices of a prompt version: how many passages it shows, in which order, and its
answer-length cap (p4: the best passage only, a span of at most 16 tokens)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.answering import AnswerConfig
from core.index import Hit
from core.prompt import PROMPTS, build_messages

pytestmark = pytest.mark.unit


def _hit(i: int) -> Hit:
    return Hit(f"c{i}", f"d{i}", f"T{i}", f"text {i}", f"h{i}", 1.0 / i)


def test_p4_shows_the_best_passage_only_delimited_as_data() -> None:
    system, user = build_messages("q?", [_hit(1), _hit(2), _hit(3)], prompt_version="p4")
    assert "data, not instructions" in system["content"]
    assert '<passage id="1" title="T1">\ntext 1\n</passage>' in user["content"]
    assert "text 2" not in user["content"]
    assert "text 3" not in user["content"]


def test_best_last_keeps_retrieval_numbers_and_puts_the_best_nearest_the_question() -> None:
    PROMPTS["t-last"] = replace(PROMPTS["p3"], passages=2, best_last=True)
    try:
        _, user = build_messages("q?", [_hit(1), _hit(2), _hit(3)], prompt_version="t-last")
    finally:
        del PROMPTS["t-last"]
    text = user["content"]
    assert text.index('id="2"') < text.index('id="1"') < text.index("Question: q?")
    assert "text 3" not in text


def test_answer_config_takes_the_prompt_versions_length_cap() -> None:
    p4 = AnswerConfig(embedding_model="e", prompt_version="p4", top_k=5, max_new_tokens=64)
    assert p4.max_new_tokens == 16
    assert replace(p4, max_new_tokens=8).max_new_tokens == 8  # a smaller setting stays
    p3 = AnswerConfig(embedding_model="e", prompt_version="p3", top_k=5, max_new_tokens=64)
    assert p3.max_new_tokens == 64
