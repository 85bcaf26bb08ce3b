"""Every degradation: Redis down, LLM down, no index, generation queue full."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from online.app import create_app
from online.components import build_components
from shared_schemas.layout import LIVE_POINTER
from tests.online.conftest import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_redis_down_answers_live_with_cache_unavailable(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    client, _components = client_factory(settings_factory(redis_url=DEAD_REDIS), fake_llm)
    r = client.post("/v1/query", json={"question": "What is the capital of Italy?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cache"] == "unavailable"
    assert body["answer"] == "answer: What is the capital of Italy?"
    assert body["sources"][0]["doc_id"] == "rome"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["redis"] == "down"
    metrics = client.get("/metrics").text
    assert 'tandem_cache_unavailable_total{operation="get"} 1.0' in metrics
    assert "tandem_redis_up 0.0" in metrics
    assert 'cache="unavailable"' in metrics
    # feedback needs Redis: 503, not 500
    fb = client.post("/v1/feedback", json={"query_id": "q", "rating": 0})
    assert fb.status_code == 503
    assert fb.json()["error"] == "redis_unavailable"


def test_redis_comes_back_by_itself(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, _components = client_factory(settings_factory(), fake_llm)
    assert client.post("/v1/query", json={"question": "Where is Berlin?"}).json()["cache"] == "miss"
    # kill every connection the service holds; the next request must reconnect on its own
    for entry in redis_client.client_list():
        if entry["id"] != str(redis_client.client_id()):
            redis_client.client_kill_filter(_id=entry["id"])
    r = client.post("/v1/query", json={"question": "Where is Berlin?"})
    assert r.json()["cache"] == "exact"


def test_llm_down_returns_sources_with_null_answer(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    fake_llm.fail = True
    client, _ = client_factory(settings_factory(), fake_llm)
    r = client.post("/v1/query", json={"question": "Who created Python?"})
    assert r.status_code == 200
    body = r.json()
    assert body["answer"] is None
    assert body["degraded"].startswith("llm_unavailable")
    assert body["sources"][0]["doc_id"] == "python"
    # nothing cached from a degraded answer
    fake_llm.fail = False
    assert client.post("/v1/query", json={"question": "Who created Python?"}).json()["answer"]


def test_chat_with_the_llm_down_answers_like_query(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    """One rule for a miss with the LLM down: 200, no answer, the sources (chat: in ``tandem``),
    and the OpenAI shape kept (the official client's model validates it strictly)."""
    from openai.types.chat import ChatCompletion

    fake_llm.fail = True
    client, _ = client_factory(settings_factory(), fake_llm)
    messages = [{"role": "user", "content": "Who created Python?"}]
    chat = client.post("/v1/chat/completions", json={"messages": messages})
    assert chat.status_code == 200, chat.text
    body = chat.json()
    ChatCompletion.model_validate(body)
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": None}
    assert choice["finish_reason"] == "stop"
    assert body["tandem"]["finish_reason"] == "llm_unavailable"
    assert body["tandem"]["degraded"].startswith("llm_unavailable")
    assert body["tandem"]["sources"][0]["doc_id"] == "python"
    # streamed: the role chunk, then the last chunk with the sources, then [DONE]
    with client.stream(
        "POST", "/v1/chat/completions", json={"messages": messages, "stream": True}
    ) as r:
        assert r.status_code == 200
        frames = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    last = json.loads(frames[-2])
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["tandem"]["finish_reason"] == "llm_unavailable"
    assert last["tandem"]["sources"][0]["doc_id"] == "python"


def test_llm_timeout_is_degraded(client_factory: Any, settings_factory: Any, fake_llm: Any) -> None:
    fake_llm.gate = threading.Event()  # never opened: the generation hangs
    client, _ = client_factory(settings_factory(llm_timeout_s=0.3), fake_llm)
    body = client.post("/v1/query", json={"question": "How long is the Nile?"}).json()
    fake_llm.gate.set()
    assert body["answer"] is None
    assert "took over" in body["degraded"]
    assert body["sources"]


def test_no_index_is_503(
    client_factory: Any, settings_factory: Any, fake_llm: Any, data_root: Path
) -> None:
    shutil.rmtree(data_root / "indexes")
    client, _ = client_factory(settings_factory(), fake_llm)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    r = client.post("/v1/query", json={"question": "Anything?"})
    assert r.status_code == 503
    assert r.json()["error"] == "no_index"
    assert "no index version is loaded" in r.json()["message"]
    assert client.post("/v1/query", json={"question": "x", "stream": True}).status_code == 503
    assert client.get("/v1/index").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_full_generation_queue_is_503_with_retry_after(
    encoder: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    settings = settings_factory(generation_concurrency=1, generation_queue=0)
    components = build_components(settings, encoder=encoder, llm=fake_llm)
    fake_llm.gate = threading.Event()
    with running_server(create_app(settings, components=components)) as url:
        results: list[httpx.Response] = []
        first = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{url}/v1/query", json={"question": "Tell me about Rome"}, timeout=30)
            )
        )
        first.start()
        assert fake_llm.entered.wait(timeout=30)  # the only slot is taken
        busy = httpx.post(f"{url}/v1/query", json={"question": "Tell me about Paris"}, timeout=30)
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
        fake_llm.gate.set()
        first.join(timeout=30)
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "2"
        assert busy.json()["error"] == "overloaded"
        # refused before embedding and retrieval (only the first request ran them), and counted
        assert 'tandem_stage_seconds_count{stage="embed"} 1.0' in metrics
        assert 'tandem_stage_seconds_count{stage="search"} 1.0' in metrics
        assert "tandem_generation_rejected_total 1.0" in metrics
        assert results[0].status_code == 200
        # cached answers do not need a slot
        assert (data_root_live := results[0].json()["answer"])
        assert data_root_live.startswith("answer:")


def test_failed_index_keeps_nothing_served_message(
    client_factory: Any, settings_factory: Any, fake_llm: Any, data_root: Path
) -> None:
    (data_root / "indexes" / LIVE_POINTER).write_text("does-not-exist")
    client, _ = client_factory(settings_factory(), fake_llm)
    ready = client.get("/readyz").json()
    assert ready["ready"] is False
    assert ready["reload_error"]["version"] == "does-not-exist"


def test_readyz_llm_ready_only_once_the_upstream_answered(
    client_factory: Any, settings_factory: Any
) -> None:
    """The start-up probe (GET /models, short timeout) decides ``llm_ready``, not a closed
    circuit that has never been tried."""
    import socket

    from core.llm.upstream import OpenAICompatibleLLM

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # released below: refused
    down = OpenAICompatibleLLM(dead, model_id="up", retries=0, timeout_s=1.0)
    client, _ = client_factory(settings_factory(), down)
    assert client.get("/readyz").json()["models"]["llm_ready"] is False

    def models(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": []})

    up = OpenAICompatibleLLM(
        "http://upstream/v1", model_id="up", transport=httpx.MockTransport(models)
    )
    client, _ = client_factory(settings_factory(), up)
    assert client.get("/readyz").json()["models"]["llm_ready"] is True
