"""What the OpenAI chat route does with what a client sends (the fake LLM says what it was asked):
parameters passed through and bounded, the conversation in the prompt, usage and finish_reason,
``stream_options.include_usage``, ``/v1/models`` and ``model_not_found``, errors in OpenAI's
shape on the OpenAI routes only, and which requests the answer cache serves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.llm.base import Sampling
from core.llm.fake import FakeLLM
from core.prompt import CLIENT_INSTRUCTIONS
from shared_schemas.config import LLM_MODEL_ID

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
QUESTION = "Who created Python?"


def _user(text: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def llm() -> FakeLLM:
    return FakeLLM(model_id=LLM_MODEL_ID)


@pytest.fixture
def client(client_factory: Any, settings_factory: Any, llm: FakeLLM) -> Any:
    c, _ = client_factory(settings_factory(max_tokens_limit=32, max_new_tokens=16), llm)
    return c


def _frames(client: Any, body: dict[str, Any]) -> list[Any]:
    with client.stream("POST", CHAT, json={**body, "stream": True}) as r:
        assert r.status_code == 200, r.read()
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def test_parameters_reach_the_model(client: Any, llm: FakeLLM) -> None:
    body = {
        "messages": _user(),
        "max_completion_tokens": 20,
        "max_tokens": 5,  # max_completion_tokens wins, as in OpenAI's API
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": ["\n\n", "###"],
        "seed": 42,
    }
    r = client.post(CHAT, json=body)
    assert r.status_code == 200, r.text
    assert llm.last_max_new_tokens == 20
    assert llm.last_sampling == Sampling(temperature=0.7, top_p=0.9, stop=("\n\n", "###"), seed=42)
    client.post(CHAT, json={"messages": _user("Where is Rome?"), "stop": "x"})
    assert llm.last_sampling == Sampling(stop=("x",))  # greedy, with a stop string
    assert llm.last_max_new_tokens == 16  # unasked: TANDEM_MAX_NEW_TOKENS


def test_usage_and_finish_reason(client: Any) -> None:
    full = client.post(CHAT, json={"messages": _user(), "max_tokens": 30}).json()
    assert full["choices"][0]["finish_reason"] == "stop"
    usage = full["usage"]
    assert usage["completion_tokens"] == 4  # "answer: Who created Python?", a word a token
    assert usage["prompt_tokens"] > 10  # the passages and the question
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    cut = client.post(CHAT, json={"messages": _user(), "max_tokens": 2}).json()
    assert cut["choices"][0]["message"]["content"] == "answer: Who"
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens"] == 2
    stopped = client.post(CHAT, json={"messages": _user(), "stop": [" created"]}).json()
    assert stopped["choices"][0]["message"]["content"] == "answer: Who"
    assert stopped["choices"][0]["finish_reason"] == "stop"


def test_system_messages_and_history_are_in_the_prompt(client: Any, llm: FakeLLM) -> None:
    messages = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "Tell me about Rome"},
        {"role": "assistant", "content": "Rome is in Italy."},
        {"role": "tool", "content": "left out"},
        {"role": "user", "content": QUESTION},
    ]
    r = client.post(CHAT, json={"messages": messages})
    assert r.status_code == 200, r.text
    prompt = llm.last_messages
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert prompt[0]["content"].endswith(f"{CLIENT_INSTRUCTIONS}\nAnswer like a pirate.")
    assert prompt[1]["content"] == "Tell me about Rome"
    assert prompt[2]["content"] == "Rome is in Italy."
    assert prompt[-1]["content"].endswith(f"Question: {QUESTION}")
    # retrieval used the last user message alone
    assert r.json()["tandem"]["sources"][0]["doc_id"] == "python"


def test_old_turns_beyond_the_history_budget_are_left_out(
    client_factory: Any, settings_factory: Any, llm: FakeLLM
) -> None:
    client, _ = client_factory(settings_factory(chat_history_chars=20), llm)
    messages = [
        {"role": "user", "content": "An old question that is long enough"},
        {"role": "assistant", "content": "An old answer."},
        {"role": "user", "content": "Recent?"},
        {"role": "assistant", "content": "Recent."},
        {"role": "user", "content": QUESTION},
    ]
    assert client.post(CHAT, json={"messages": messages}).status_code == 200
    assert [m["content"] for m in llm.last_messages[1:-1]] == ["Recent?", "Recent."]


def test_include_usage_adds_openais_last_chunk(client: Any) -> None:
    chunks = _frames(
        client,
        {"messages": _user(), "max_tokens": 3, "stream_options": {"include_usage": True}},
    )
    *content, last, usage_chunk = chunks
    assert all(c["usage"] is None for c in [*content, last])
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in content) == (
        "answer: Who created"
    )
    assert last["choices"][0]["finish_reason"] == "length"
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 3
    assert usage_chunk["usage"]["prompt_tokens"] > 10
    plain = _frames(client, {"messages": _user("Where is Rome?")})
    assert all("usage" not in c for c in plain)  # not asked: OpenAI's chunks have none


def test_models_and_an_unknown_model(client: Any) -> None:
    listed = client.get("/v1/models").json()
    assert [m["id"] for m in listed["data"]] == [LLM_MODEL_ID, "tandem"]
    for name in (LLM_MODEL_ID, "tandem"):
        assert client.post(CHAT, json={"model": name, "messages": _user()}).status_code == 200
    r = client.post(CHAT, json={"model": "gpt-4o", "messages": _user()})
    assert r.status_code == 404
    error = r.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "model_not_found",
        "model",
        "invalid_request_error",
    )
    assert "gpt-4o" in error["message"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": [""]}, "stop.str"),
        ({"seed": 2**64}, "seed"),
        ({"n": 2}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 33}, "max_tokens"),  # over max_tokens_limit of this client
        ({"max_completion_tokens": 33}, "max_completion_tokens"),
        # over the limit even where max_completion_tokens wins (it was taken silently)
        ({"max_completion_tokens": 20, "max_tokens": 513}, "max_tokens"),
        # the system messages in all over chat_system_chars (4,000 by default)
        (
            {"messages": [{"role": "system", "content": "s" * 1500}] * 3 + _user()},
            "messages",
        ),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ],
)
def test_bounds_are_422_in_openais_shape(client: Any, extra: dict[str, Any], param: str) -> None:
    r = client.post(CHAT, json={"messages": _user(), **extra})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_input"
    assert error["param"].startswith(param.split(".")[0]), error
    assert error["message"]


def test_declared_max_tokens_is_the_settings_limit(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    chat = spec["components"]["schemas"]["ChatCompletionBody"]["properties"]
    for name in ("max_tokens", "max_completion_tokens"):
        [number] = [c for c in chat[name]["anyOf"] if c.get("type") == "integer"]
        assert number["maximum"] == 32


def test_limits_refusals_are_in_openais_shape_on_openai_routes_only(
    client_factory: Any, settings_factory: Any, llm: FakeLLM
) -> None:
    settings = settings_factory(
        max_body_bytes=300,
        rate_limits={"enabled": True, "requests": {"rate_per_s": 0.001, "burst": 2}},
    )
    client, _ = client_factory(settings, llm)
    big = client.post(CHAT, json={"messages": _user("x" * 400)})
    assert big.status_code == 413
    assert big.json()["error"]["param"] == "body"
    assert big.json()["error"]["code"] == "invalid_input"
    limited = [client.get("/v1/models") for _ in range(3)][-1]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"]
    error = limited.json()["error"]
    assert (error["type"], error["code"], error["bucket"]) == (
        "rate_limit_error",
        "rate_limited",
        "requests",
    )
    tandem = client.post("/v1/query", json={"question": QUESTION})
    assert tandem.status_code == 429
    assert tandem.json()["error"] == "rate_limited"  # Tandem's own routes keep their shape


def test_only_the_services_own_answer_uses_the_cache(client: Any, llm: FakeLLM) -> None:
    variants: list[dict[str, Any]] = [
        {"temperature": 0.8, "seed": 1},
        {"max_tokens": 8},
        {"stop": ["zzz"]},
        {"messages": [{"role": "system", "content": "Be brief."}, *_user()]},
        {"messages": [*_user("Hi"), {"role": "assistant", "content": "Hello."}, *_user()]},
    ]
    for extra in variants:
        r = client.post(CHAT, json={"messages": _user(), **extra}).json()
        assert r["tandem"]["cache"] == "miss", extra
    assert llm.calls == len(variants)  # each one generated
    # none was written: the service's own answer is still a miss, then cached
    assert client.post(CHAT, json={"messages": _user()}).json()["tandem"]["cache"] == "miss"
    again = client.post(CHAT, json={"messages": _user(), "max_tokens": 16, "temperature": 0})
    assert again.json()["tandem"]["cache"] == "exact"  # the defaults, said out loud
    assert again.json()["usage"]["completion_tokens"] == 0  # no model ran
    calls = llm.calls
    for extra in variants:  # and none is served from the cache
        r = client.post(CHAT, json={"messages": _user(), **extra}).json()
        assert r["tandem"]["cache"] == "miss", extra
    assert llm.calls == calls + len(variants)
