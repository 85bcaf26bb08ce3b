"""Borderline misses judged in the background (issue 24 item 1): the service answers a reworded
question live at once and queues it with the nearest cached question; the judge worker's
"same" verdict makes it an alias, so the next ask is an exact hit; "different" leaves it alone,
and a pair is queued once."""

from __future__ import annotations

import math
from typing import Any

import pytest

from core.cache.redis_sync import RedisAnswerCacheSync
from core.llm.fake import FakeLLM
from core.llm.judge import PairJudge
from online.refine.judging import JudgeWorker
from shared_schemas.hashing import question_key_hash
from shared_schemas.layout import JUDGE_STREAM

pytestmark = pytest.mark.integration

ASKED = "Who won Super Bowl 50?"
REWORDED = "Who was the winner of Super Bowl 50?"
OTHER = "Who lost Super Bowl 50?"


class Verdicts:
    """A judge model that says "same" for the reworded question only (in either order)."""

    model_id = "judge"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def first_token_logprobs(self, messages: list, *, top: int = 10) -> dict[str, float]:  # type: ignore[type-arg]
        content = messages[-1]["content"]
        first = content.split("Question A:", 1)[1].split("\n", 1)[0].strip()
        second = content.split("Question B:", 1)[1].split("\n", 1)[0].strip()
        self.asked.append(second)
        same = REWORDED in (first, second)
        return {"yes": math.log(0.99 if same else 0.2), "no": math.log(0.01 if same else 0.8)}


def test_a_borderline_miss_becomes_an_alias_once_judged_the_same(
    client_factory: Any, settings_factory: Any, encoder: Any, redis_client: Any
) -> None:
    # no live write-through: what the next ask finds is the judge's doing alone
    settings = settings_factory(
        judge_misses=True,
        judge_floor=0.3,
        judge_cut=0.9,
        semantic_threshold=0.999,
        live_cache_ttl_s=0,
    )
    llm = FakeLLM()
    client, components = client_factory(settings, llm)
    scope = components.pipeline.scope(components.indexes.require().version)
    cache = RedisAnswerCacheSync(redis_client)
    vector = encoder.encode([ASKED])[0]
    warmed = components.answerer.computed(
        ASKED, "Denver Broncos", [], vector, index_version=scope.index_version
    )
    cache.put(warmed.to_cache_entry(origin="batch", ttl_s=600), vector)
    assert client.post("/v1/query", json={"question": ASKED}).json()["cache"] == "exact"
    for question in (REWORDED, OTHER, REWORDED):  # the second REWORDED: queued once only
        assert client.post("/v1/query", json={"question": question}).json()["cache"] == "miss"
    assert redis_client.xlen(JUDGE_STREAM) == 2
    metrics = client.get("/metrics").text
    assert 'tandem_judge_pairs_total{outcome="queued"} 2.0' in metrics
    assert 'tandem_judge_pairs_total{outcome="seen"} 1.0' in metrics

    verdicts = Verdicts()
    worker = JudgeWorker(
        redis=redis_client, judge=PairJudge(verdicts), encoder=encoder, cut=0.9, ttl_s=600
    )
    stats = worker.run(max_pairs=2)
    # "won" / "lost": opposite words, a hard check rules the pair out, the model is not asked;
    # the reworded question is judged in both orders
    assert (stats.judged, stats.aliased, stats.skipped, stats.ruled_out) == (1, 1, 0, 1)
    assert sorted(verdicts.asked) == sorted([REWORDED, ASKED])

    # the reworded question is now an exact hit holding the answer of the question it matches
    original = cache.get_exact(scope, question_key_hash(ASKED))
    assert original is not None
    again = client.post("/v1/query", json={"question": REWORDED}).json()
    assert again["cache"] == "exact"
    assert again["answer"] == original.answer
    alias = cache.get_exact(scope, question_key_hash(REWORDED))
    assert alias is not None
    assert alias.alias_of == original.normalized_key
    # "different": no alias, still answered live
    assert cache.get_exact(scope, question_key_hash(OTHER)) is None
    assert client.post("/v1/query", json={"question": OTHER}).json()["cache"] == "miss"
    calls = llm.calls
    assert client.post("/v1/query", json={"question": REWORDED}).json()["cache"] == "exact"
    assert llm.calls == calls


def cached_entry(
    redis_client: Any, encoder: Any, scope: Any, question: str, answer: str
) -> tuple[RedisAnswerCacheSync, Any]:
    """A fresh cache scope holding one entry (question, answer)."""
    from datetime import UTC, datetime

    from shared_schemas.cache import CacheEntry

    cache = RedisAnswerCacheSync(redis_client)
    cache.purge(scope)
    entry = CacheEntry(
        question=question,
        normalized_key=question_key_hash(question),
        answer=answer,
        index_version=scope.index_version,
        embedding_model=scope.embedding_model,
        llm_model=scope.llm_model,
        prompt_version=scope.prompt_version,
        created_at=datetime.now(UTC),
        namespace=scope.namespace,
    )
    cache.put(entry, encoder.encode([question])[0], ttl_s=600)
    return cache, entry


class Leaning:
    """A judge model that leans one way for every pair: p(yes) = ``yes``."""

    model_id = "judge"

    def __init__(self, yes: float) -> None:
        self.yes = yes
        self.calls = 0

    def first_token_logprobs(self, messages: list, *, top: int = 10) -> dict[str, float]:  # type: ignore[type-arg]
        self.calls += 1
        return {"yes": math.log(self.yes), "no": math.log(1.0 - self.yes)}


@pytest.mark.parametrize(
    ("overrule", "asked", "verdict"),
    [
        ({}, 0, "different (comparison added)"),  # not overruled: the model is not asked
        ({"comparison added": 0.95}, 2, "different 0.9300 (over comparison added)"),
        ({"comparison added": 0.90}, 2, "same 0.9300 (over comparison added)"),
    ],
)
def test_an_overruled_check_asks_the_judge_at_its_own_cut(
    redis_client: Any, encoder: Any, overrule: dict[str, float], asked: int, verdict: str
) -> None:
    from core.cache.codec import CacheScope
    from online.refine.judging import judged_marker, pair_fields

    scope = CacheScope("v-overrule", "m", "llm", "p7", "overrule")
    asked_q = "What do online pharmacies do?"
    cache, entry = cached_entry(
        redis_client, encoder, scope, "What do most online pharmacies do?", "sell drugs"
    )
    model = Leaning(0.93)
    worker = JudgeWorker(
        redis=redis_client,
        judge=PairJudge(model),
        encoder=encoder,
        cut=0.5,  # the cut of pairs failing no check: lower than either band's
        ttl_s=600,
        overrule=overrule,
    )
    qhash = question_key_hash(asked_q)
    worker.process("0-1", pair_fields(scope, asked_q, qhash, entry.normalized_key, 0.9))
    assert model.calls == asked
    marker = redis_client.get(judged_marker(scope, qhash, entry.normalized_key))
    assert marker.decode() == verdict
    alias = cache.get_exact(scope, qhash)
    assert (alias is not None) is verdict.startswith("same")
    cache.purge(scope)


class AnswerReader:
    """An answer-aware judge model: "yes" when the cached answer is the one it expects."""

    model_id = "judge"

    def __init__(self, expects: str) -> None:
        self.expects = expects
        self.read: list[str] = []

    def first_token_logprobs(self, messages: list, *, top: int = 10) -> dict[str, float]:  # type: ignore[type-arg]
        content = messages[-1]["content"]
        answer = content.split("Cached answer: ", 1)[1].split("\n", 1)[0]
        self.read.append(answer)
        yes = 0.95 if answer == self.expects else 0.3
        return {"yes": math.log(yes), "no": math.log(1.0 - yes)}


@pytest.mark.parametrize(("expects", "aliased"), [("sell drugs", True), ("something else", False)])
def test_an_answer_aware_judge_reads_the_cached_entrys_answer(
    redis_client: Any, encoder: Any, expects: str, aliased: bool
) -> None:
    from core.cache.codec import CacheScope
    from online.refine.judging import judged_marker, pair_fields

    scope = CacheScope("v-answer-judge", "m", "llm", "p7", "answer-judge")
    asked_q = "what do web pharmacies sell"
    cache, entry = cached_entry(
        redis_client, encoder, scope, "What do online pharmacies sell?", "sell drugs"
    )
    model = AnswerReader(expects)
    worker = JudgeWorker(
        redis=redis_client,
        judge=PairJudge(model, prompt="a1"),
        encoder=encoder,
        cut=0.9,
        ttl_s=600,
    )
    qhash = question_key_hash(asked_q)
    worker.process("0-1", pair_fields(scope, asked_q, qhash, entry.normalized_key, 0.8))
    assert model.read == ["sell drugs"]  # once: one order
    marker = redis_client.get(judged_marker(scope, qhash, entry.normalized_key)).decode()
    assert marker.startswith("same" if aliased else "different")
    alias = cache.get_exact(scope, qhash)
    assert (alias is not None) is aliased
    if alias is not None:
        assert alias.answer == "sell drugs"
        assert alias.alias_of == entry.normalized_key
    cache.purge(scope)
