"""Each cache path of POST /v1/query, streaming, the query log, feedback (fake LLM, real rest)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.cache.codec import CacheScope
from core.cache.redis_sync import RedisAnswerCacheSync
from shared_schemas.cache import CacheEntry
from shared_schemas.events import FeedbackEvent, QueryLogEvent
from shared_schemas.hashing import question_key_hash
from shared_schemas.layout import FEEDBACK_STREAM, QUERY_LOG_STREAM
from tests.online.conftest import flush_querylog

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _log_events(redis_client: Any) -> list[QueryLogEvent]:
    return [QueryLogEvent.parse(f[b"event"]) for _, f in redis_client.xrange(QUERY_LOG_STREAM)]


def _sse(text: str) -> list[tuple[str, Any]]:
    out = []
    for frame in text.strip().split("\n\n"):
        event, data = "message", ""
        for line in frame.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((event, json.loads(data) if data.startswith("{") else data))
    return out


def test_miss_answers_live_then_exact_hit(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, components = client_factory(settings_factory(), fake_llm)
    r = client.post("/v1/query", json={"question": "What is the capital of France?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cache"] == "miss"
    assert body["answer"] == "answer: What is the capital of France?"
    assert body["sources"][0]["doc_id"] == "paris"
    assert set(body["sources"][0]) == {"chunk_id", "doc_id", "title", "score", "text"}
    assert body["models"] == {
        "embed": components.settings.embedding_model,
        "llm": "fake-llm",
        "tier": "fast",
    }
    assert body["variant"] == "default"
    assert body["index_version"] == components.indexes.require().version
    assert {"embed", "search", "generate", "total"} <= set(body["timings_ms"])

    # written through: the same question (differently cased/punctuated) is an exact hit
    r2 = client.post("/v1/query", json={"question": "  what is the capital of france  "})
    hit = r2.json()
    assert hit["cache"] == "exact"
    assert hit["answer"] == body["answer"]
    assert hit["sources"][0]["text"].startswith("Paris is the capital")
    assert fake_llm.calls == 1

    flush_querylog(client, components)
    events = _log_events(redis_client)
    assert [e.cache for e in events] == ["miss", "exact"]
    assert events[0].query_id == body["query_id"]
    assert events[0].source_chunk_ids[0] == body["sources"][0]["chunk_id"]
    assert all(e.variant == "default" for e in events)
    ttl = redis_client.ttl(
        CacheScope(
            index_version=body["index_version"],
            embedding_model=components.settings.embedding_model,
            llm_model="fake-llm",
            prompt_version=components.settings.prompt_version,
        ).key(question_key_hash("What is the capital of France?"))
    )
    assert 0 < ttl <= components.settings.live_cache_ttl_s


def test_precomputed_entry_is_served_exactly(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, components = client_factory(settings_factory(), fake_llm)
    state = components.indexes.require()
    computed = components.answerer.answer_once("Who won Super Bowl 50?", state.index)
    entry = computed.to_cache_entry(origin="batch", ttl_s=600)
    entry = entry.model_copy(update={"answer": "The Denver Broncos (precomputed)."})
    RedisAnswerCacheSync(redis_client).put(entry, computed.question_vector)
    fake_llm.calls = 0
    body = client.post("/v1/query", json={"question": "who won super bowl 50"}).json()
    assert body["cache"] == "exact"
    assert body["answer"] == "The Denver Broncos (precomputed)."
    assert body["sources"][0]["doc_id"] == "sb50"
    assert fake_llm.calls == 0


def test_semantic_hit_needs_similarity_and_agreement(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    # the signature check alone (the evidence verifier's own tests: test_semantic_verifier*.py)
    settings = settings_factory(semantic_threshold=0.8, semantic_verifier="signature")
    client, _components = client_factory(settings, fake_llm)
    first = client.post("/v1/query", json={"question": "Who won Super Bowl 50?"}).json()
    assert first["cache"] == "miss"
    para = client.post(
        "/v1/query", json={"question": "Who was the winner of Super Bowl 50?"}
    ).json()
    assert para["cache"] == "semantic", para
    assert para["answer"] == first["answer"]
    assert para["similarity"] >= 0.8
    # similar wording but another number: never served from the cache
    other = client.post("/v1/query", json={"question": "Who won Super Bowl 49?"}).json()
    assert other["cache"] == "miss"
    assert other["answer"] == "answer: Who won Super Bowl 49?"


def test_semantic_threshold_is_respected(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    client, _ = client_factory(settings_factory(semantic_threshold=0.999), fake_llm)
    client.post("/v1/query", json={"question": "Who won Super Bowl 50?"})
    para = client.post(
        "/v1/query", json={"question": "Who was the winner of Super Bowl 50?"}
    ).json()
    assert para["cache"] == "miss"


def test_unknown_schema_entry_is_a_miss(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, components = client_factory(settings_factory(), fake_llm)
    scope = components.pipeline.scope(components.indexes.require().version)
    key = scope.key(question_key_hash("What is the capital of France?"))
    redis_client.set(key, json.dumps({"schema_version": 99, "answer": "from the future"}))
    body = client.post("/v1/query", json={"question": "What is the capital of France?"}).json()
    assert body["cache"] == "miss"
    assert body["answer"].startswith("answer:")
    assert "unknown schema" in caplog.text
    # the live answer replaced the unreadable entry
    assert CacheEntry.parse(redis_client.get(key)).origin == "live"


def test_stream_sends_tokens_then_final(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    client, _ = client_factory(settings_factory(), fake_llm)
    r = client.post("/v1/query", json={"question": "Where is the Nile?", "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = _sse(r.text)
    tokens = [d["text"] for e, d in frames if e == "token"]
    assert len(tokens) > 1
    assert "".join(tokens) == "answer: Where is the Nile?"
    kind, final = frames[-1]
    assert kind == "final"
    assert final["answer"] == "answer: Where is the Nile?"
    assert final["sources"][0]["doc_id"] == "nile"
    assert final["cache"] == "miss"
    # now cached: one token event with the whole answer
    frames2 = _sse(
        client.post("/v1/query", json={"question": "Where is the Nile?", "stream": True}).text
    )
    assert [e for e, _ in frames2] == ["token", "final"]
    assert frames2[-1][1]["cache"] == "exact"


def test_feedback_goes_to_the_stream(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, _ = client_factory(settings_factory(), fake_llm)
    r = client.post("/v1/feedback", json={"query_id": "q1", "rating": 1, "comment": "good"})
    assert r.status_code == 202, r.text
    [(_, fields)] = redis_client.xrange(FEEDBACK_STREAM)
    event = FeedbackEvent.parse(fields[b"event"])
    assert (event.query_id, event.rating, event.comment, event.variant) == (
        "q1",
        1,
        "good",
        "default",
    )


def test_index_and_metrics(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, components = client_factory(settings_factory(), fake_llm)
    redis_client.hset("tandem:freshness", mapping={"max_lag_s": "42.5", "note": "text"})
    client.post("/v1/query", json={"question": "How high is Everest?"})
    client.post("/v1/query", json={"question": "How high is Everest?"})
    idx = client.get("/v1/index").json()
    assert idx["version"] == components.indexes.require().version
    assert idx["manifest"]["vector_count"] == 10
    text = client.get("/metrics").text
    assert 'tandem_http_requests_total{method="POST",route="/v1/query",status="200"} 2.0' in text
    assert 'cache="exact"' in text
    assert 'cache="miss"' in text
    assert f'tandem_index_info{{version="{idx["version"]}"}} 1.0' in text
    assert 'tandem_freshness{figure="max_lag_s"} 42.5' in text
    assert "tandem_llm_time_to_first_token_seconds_count 1.0" in text
    assert 'tandem_stage_seconds_count{stage="embed"}' in text
    assert "tandem_index_age_seconds" in text
