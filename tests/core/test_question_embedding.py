"""A question is embedded in one form whether or not it ends with a question mark (issue 24:
the int8 MiniLM put "How many tonnes of tomatoes does Victoria produce?" at cosine 0.88 from the
same words without "?", so a question typed without the mark missed its cached twin)."""

from __future__ import annotations

import numpy as np

from core.answering import Answerer
from core.bootstrap import answer_config
from core.encoder import get_encoder
from core.llm.base import ChatMessage, GenerationStats
from shared_schemas.config import CommonSettings


class _NoLLM:
    model_id = "none"

    def generate(
        self, messages: list[ChatMessage], *, stats: GenerationStats | None = None, **kw: object
    ) -> str:
        raise AssertionError("embedding needs no model call")


def test_the_mark_does_not_move_the_vector() -> None:
    encoder = get_encoder()
    asked, typed = (
        "How many tonnes of tomatoes does Victoria produce?",
        ("how many tonnes of tomatoes does victoria produce"),
    )
    raw = encoder.encode([asked])[0] @ encoder.encode([typed])[0]
    answerer = Answerer(encoder=encoder, llm=_NoLLM(), config=answer_config(CommonSettings()))  # type: ignore[arg-type]
    served = float(answerer.embed(asked) @ answerer.embed(typed))
    assert served > 0.999, served
    # the encoder alone tells them apart: what the embedding form is for
    assert raw < 0.97, raw
    # and a question that differs in words still differs
    other = float(
        answerer.embed(asked) @ answerer.embed("How many tonnes of wheat does Victoria produce?")
    )
    assert other < 0.97
    assert np.isfinite(served)
