"""A conversation that does not fit the model's context is the client's error (issue 27 item 6):
llama.cpp refuses the prompt with a 400; the service answered ``content: null`` with
``llm_unavailable`` (and counted it against the breaker) instead of a 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.errors import LLMError, LLMPromptTooLongError
from core.llm.upstream import refusal
from online.app import create_app
from online.components import build_components
from tests.online.conftest import running_server

CHAT = "/v1/chat/completions"


@pytest.fixture
def small_context_engine() -> Iterator[Any]:
    from core.llm.factory import build_backend
    from shared_schemas.config import LLM_MODEL_ID, EngineLLMConfig

    engine = build_backend(
        EngineLLMConfig(model_id=LLM_MODEL_ID, threads=1, parallel=1, ctx_size=1024)
    )
    try:
        yield engine
    finally:
        engine.close()


@pytest.mark.integration
def test_a_chat_over_the_context_is_422_and_the_next_one_is_answered(
    small_context_engine: Any, encoder: Any, settings_factory: Any, redis_client: Any
) -> None:
    settings = settings_factory(max_new_tokens=8, chat_system_chars=20_000)
    components = build_components(settings, encoder=encoder, llm=small_context_engine)
    with running_server(create_app(settings, components=components)) as url:
        # 6 system messages of 1,900 characters: far over the engine's 1,024-token context
        system = [{"role": "system", "content": "Answer briefly. " * 118}] * 6
        user = {"role": "user", "content": "Where is Tokyo?"}
        for stream in (False, True):
            r = httpx.post(
                url + CHAT, json={"messages": [*system, user], "stream": stream}, timeout=120
            )
            assert r.status_code == 422, r.text
            assert r.json()["error"]["param"] == "messages"
            assert "context" in r.json()["error"]["message"]
        ok = httpx.post(url + CHAT, json={"messages": [user]}, timeout=120)
        assert ok.status_code == 200, ok.text
        assert ok.json()["choices"][0]["message"]["content"]
        assert small_context_engine.breaker.state == "closed"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            {"error": {"type": "exceed_context_size_error", "message": "x"}},
            LLMPromptTooLongError,
        ),
        (
            400,
            {"error": {"code": "context_length_exceeded", "message": "x"}},
            LLMPromptTooLongError,
        ),
        (
            400,
            {"error": {"message": "the request exceeds the available context size"}},
            LLMPromptTooLongError,
        ),
        (400, {"error": {"message": "bad grammar"}}, LLMError),
        (404, {"error": "not found"}, LLMError),
        (400, None, LLMError),
    ],
)
def test_refusals_name_a_prompt_over_the_context(status: int, body: Any, kind: type) -> None:
    resp = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    error = refusal(resp)
    assert type(error) is kind
