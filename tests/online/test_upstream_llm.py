"""The OpenAI-compatible upstream backend: retries, circuit breaker, streaming, timeouts."""

from __future__ import annotations

import json

import httpx
import pytest

from core.llm.base import ChatMessage
from core.llm.breaker import CircuitBreaker
from core.llm.upstream import OpenAICompatibleLLM
from online.errors import LLMError, LLMTimeoutError, LLMUnavailableError

MSGS: list[ChatMessage] = [{"role": "user", "content": "hi"}]


def _ok(content: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": {"completion_tokens": 3},
        },
    )


def _llm(handler: object, **kw: object) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(
        "http://upstream/v1",
        model_id="m",
        backoff_s=0.0,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_retries_then_succeeds() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        body = json.loads(request.content)
        assert body["temperature"] == 0
        assert body["max_tokens"] == 5
        return httpx.Response(502) if len(calls) < 3 else _ok(" fine ")

    assert _llm(handler, retries=2).generate(MSGS, max_new_tokens=5) == "fine"
    assert calls == ["/v1/chat/completions"] * 3


def test_client_errors_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"error": "bad"})

    with pytest.raises(LLMError):
        _llm(handler, retries=3).generate(MSGS, max_new_tokens=5)
    assert calls == 1


def test_breaker_opens_and_fails_fast() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown_s=10, clock=lambda: now[0])
    llm = _llm(handler, retries=5, breaker=breaker)
    with pytest.raises(LLMUnavailableError):
        llm.generate(MSGS, max_new_tokens=5)
    assert calls == 2
    assert breaker.state == "open"
    assert not llm.ready()
    with pytest.raises(LLMUnavailableError, match="circuit is open"):
        llm.generate(MSGS, max_new_tokens=5)
    assert calls == 2
    now[0] = 11.0  # half-open: one trial
    assert breaker.state == "half-open"
    with pytest.raises(LLMUnavailableError):
        llm.generate(MSGS, max_new_tokens=5)
    assert calls == 3


def test_timeout_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(LLMTimeoutError):
        _llm(handler, retries=1).generate(MSGS, max_new_tokens=5)


def test_stream_parses_sse() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        lines = [
            {"choices": [{"delta": {"role": "assistant"}}]},
            {"choices": [{"delta": {"content": "Hel"}}]},
            {"choices": [{"delta": {"content": "lo"}}]},
        ]
        text = "".join(f"data: {json.dumps(x)}\n\n" for x in lines) + "data: [DONE]\n\n"
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})

    from core.llm.base import GenerationStats

    stats = GenerationStats()
    assert list(_llm(handler).stream(MSGS, max_new_tokens=5, stats=stats)) == ["Hel", "lo"]
    assert stats.tokens == 2


pytestmark = pytest.mark.unit  # pure logic: `make unit`


def test_not_ready_until_the_upstream_has_answered() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": []})
        return _ok("fine")

    llm = _llm(handler)
    assert not llm.ready()  # never reached: not known to work
    assert llm.probe(timeout_s=1.0)
    assert paths == ["/v1/models"]
    assert llm.ready()
    other = _llm(handler)
    other.generate(MSGS, max_new_tokens=5)
    assert other.ready()  # a generation is an answer too


def test_probe_of_a_dead_upstream_says_not_ready() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    llm = _llm(handler)
    assert not llm.probe(timeout_s=1.0)
    assert not llm.ready()
