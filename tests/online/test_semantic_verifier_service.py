"""Through the service (real Redis, real encoder, real index): a paraphrase from the hand-written
set is answered from the semantic cache, the distinct question written beside it is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARAPHRASES = Path(__file__).resolve().parents[2] / "bench" / "data" / "semantic_paraphrases.jsonl"


def _item(squad_id: str) -> dict[str, str]:
    for line in PARAPHRASES.read_text("utf-8").splitlines():
        item = json.loads(line)
        if item["id"] == squad_id:
            return item
    raise KeyError(squad_id)


@pytest.mark.parametrize("squad_id", ["56de17f9cffd8e1900b4b5e2", "5737804dc3c5551400e51f11"])
def test_paraphrase_hits_and_distinct_question_misses(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any, squad_id: str
) -> None:
    item = _item(squad_id)
    settings = settings_factory(semantic_threshold=0.85)  # the evidence verifier: the default
    assert settings.semantic_verifier == "evidence"
    client, _ = client_factory(settings, fake_llm)
    first = client.post("/v1/query", json={"question": item["question"]}).json()
    assert first["cache"] == "miss"
    para = client.post("/v1/query", json={"question": item["paraphrase"]}).json()
    assert para["cache"] == "semantic", para
    assert para["answer"] == first["answer"]
    other = client.post("/v1/query", json={"question": item["distinct"]}).json()
    assert other["cache"] == "miss", other
    assert other["answer"] == f"answer: {item['distinct']}"
    assert fake_llm.calls == 2


@pytest.mark.parametrize("spelling", [True, False])
def test_a_typing_slip_is_put_right_before_the_semantic_lookup(
    client_factory: Any, settings_factory: Any, fake_llm: Any, spelling: bool
) -> None:
    """The slips ("progarmming", "langauge") cost the embedding its cosine; put right against
    the index's own words, the question is the cached one's. Switched off, it misses."""
    settings = settings_factory(semantic_threshold=0.85, semantic_spelling=spelling)
    client, _ = client_factory(settings, fake_llm)
    asked = "Which programming language did Guido van Rossum create?"
    first = client.post("/v1/query", json={"question": asked}).json()
    assert first["cache"] == "miss"
    slip = "Which progarmming langauge did Guido van Rossum craete?"  # cosine 0.70
    again = client.post("/v1/query", json={"question": slip}).json()
    if spelling:
        assert again["cache"] == "semantic", again
        assert again["answer"] == first["answer"]
        assert fake_llm.calls == 1
    else:
        assert again["cache"] == "miss", again
        assert fake_llm.calls == 2
