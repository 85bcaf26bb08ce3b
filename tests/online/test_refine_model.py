"""The refine worker runs the deep tier: it asks the deep upstream (``TANDEM_DEEP_LLM_URL``) for
``TANDEM_DEEP_LLM_MODEL`` and its cache entries carry the tier and the model that actually
answered (the upstream's response ``model``), keyed for the service's fast model so that the
service serves them where the live answer was (issues 12 item 5, 23 item 3).

The upstream is a real Tandem service over HTTP whose OpenAI route answers with its model id
``big-model`` when asked for the alias ``tandem``: what the worker asked for and what answered
differ, and the entry records the latter."""

from __future__ import annotations

from typing import Any

import pytest

from core.bootstrap import build_answerer
from core.cache.redis_sync import RedisAnswerCacheSync
from core.llm.fake import FakeLLM
from online.app import create_app
from online.components import build_components
from online.refine.config import RefineSettings
from online.refine.worker import RefineWorker, refine_answerer
from shared_schemas.config import LLM_MODEL_ID
from shared_schemas.hashing import question_key_hash
from tests.online.conftest import running_server

pytestmark = pytest.mark.integration

QUESTION = "Who won Super Bowl 50?"


def test_refined_entries_carry_the_model_that_answered(
    client_factory: Any, settings_factory: Any, encoder: Any, redis_client: Any
) -> None:
    big = FakeLLM(model_id="big-model")
    upstream_settings = settings_factory(max_question_chars=20_000, max_body_bytes=400_000)
    upstream = build_components(upstream_settings, encoder=encoder, llm=big)
    service_settings = settings_factory()
    client, components = client_factory(service_settings, FakeLLM(model_id=LLM_MODEL_ID))
    with running_server(create_app(upstream_settings, components=upstream)) as url:
        settings = RefineSettings(
            **{
                **service_settings.model_dump(),
                "deep_llm_url": f"{url}/v1",
                "deep_llm_model": "tandem",
            }
        )
        deep = settings.for_tier("deep")
        assert deep.llm_model == "tandem"  # the name sent upstream
        assert deep.llm_backend == "openai"
        answerer = refine_answerer(settings, build_answerer(settings, encoder=encoder, tier="deep"))
        worker = RefineWorker(settings=settings, redis=redis_client, answerer=answerer)
        job = client.post("/v1/query", json={"question": QUESTION, "refine": True}).json()
        assert worker.run(max_jobs=1).done == 1, job
        answerer.llm.close()
    assert big.calls == 1  # the refinement was generated upstream
    scope = components.pipeline.scope(components.indexes.require().version)
    assert scope.llm_model == LLM_MODEL_ID  # the service's key
    entry = RedisAnswerCacheSync(redis_client).get_exact(scope, question_key_hash(QUESTION))
    assert entry is not None
    assert entry.origin == "refined"
    assert entry.llm_model == LLM_MODEL_ID
    assert entry.produced_by == "big-model"  # what the upstream said answered, not "tandem"
    assert entry.tier == "deep"
    served = client.post("/v1/query", json={"question": QUESTION}).json()
    assert served["cache"] == "exact"
    assert served["answer"] == entry.answer
    assert served["models"]["llm"] == "big-model"


def test_the_deep_tier_takes_its_own_fields(settings_factory: Any) -> None:
    settings = settings_factory(
        llm_model="fast-m", deep_llm_model="deep-m", deep_llm_engine_parallel=3
    )
    deep = settings.for_tier("deep")
    assert (deep.llm_model, deep.llm_engine_parallel) == ("deep-m", 3)
    assert settings.for_tier("fast") is settings
    # a fast upstream is not the deep one: without a deep URL the deep tier runs an engine
    remote = settings_factory(llm_backend="openai", llm_url="http://127.0.0.1:1/v1")
    assert remote.for_tier("deep").llm_backend == "auto"
    assert remote.for_tier("deep").llm_url is None


def test_a_live_miss_is_refined_by_the_deep_tier_under_the_same_key(
    client_factory: Any, settings_factory: Any, encoder: Any, redis_client: Any
) -> None:
    """TANDEM_REFINE_LIVE_MISSES: the fast answer is served at once and queued; the deep
    answer replaces it under the same key, and the next ask is served from it (issue 23 item 3)."""
    settings = settings_factory(refine_live_misses=True, deep_llm_model="deep-model")
    fast = FakeLLM(model_id=LLM_MODEL_ID)
    client, _components = client_factory(settings, fast)
    first = client.post("/v1/query", json={"question": QUESTION}).json()
    assert first["cache"] == "miss"
    assert first["models"]["tier"] == "fast"
    job = first["refine"]
    assert job["status"] == "queued"
    assert job["url"] == f"/v1/jobs/{job['id']}"
    deep = FakeLLM(model_id="deep-model")
    refine_settings = RefineSettings(**settings.model_dump())
    answerer = refine_answerer(
        refine_settings, build_answerer(refine_settings, encoder=encoder, llm=deep, tier="deep")
    )
    worker = RefineWorker(settings=refine_settings, redis=redis_client, answerer=answerer)
    assert worker.run(max_jobs=1).done == 1
    assert deep.calls == 1
    assert client.get(job["url"]).json()["status"] == "done"
    again = client.post("/v1/query", json={"question": QUESTION}).json()
    assert again["cache"] == "exact"
    assert again["models"] == {**first["models"], "llm": "deep-model", "tier": "deep"}
    assert "refine" not in again  # a cached answer is not queued again
    assert fast.calls == 1
    # not configured: a live answer is not queued
    plain, _ = client_factory(settings_factory(deep_llm_model="deep-model"), FakeLLM())
    assert "refine" not in plain.post("/v1/query", json={"question": "Who is the mayor?"}).json()
