"""The real SmolLM2 GGUF, loaded once: streaming and the official ``openai`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.llm.local import TransformersLocalLLM
from core.llm.upstream import OpenAICompatibleLLM
from core.prompt import build_messages
from online.app import create_app
from online.components import build_components
from shared_schemas.config import LLM_MODEL_ID
from tests.core.llm_suite import LLMBackendContract
from tests.online.conftest import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def server(
    encoder: Any, settings_factory: Any, real_llm: TransformersLocalLLM, redis_client: Any
) -> Any:
    settings = settings_factory(max_new_tokens=16)
    components = build_components(settings, encoder=encoder, llm=real_llm)
    with running_server(create_app(settings, components=components)) as url:
        yield url, components


class TestLocalLLM(LLMBackendContract):
    """The in-process GGUF backend against the LLMBackend suite."""

    @pytest.fixture
    def llm(self, real_llm: TransformersLocalLLM) -> TransformersLocalLLM:
        return real_llm


class TestUpstreamLLM(LLMBackendContract):
    """The OpenAI-compatible backend over real HTTP, against Tandem's own OpenAI API serving
    the real model: the same suite, through the protocol."""

    @pytest.fixture
    def llm(self, server: Any) -> Iterator[OpenAICompatibleLLM]:
        url, _ = server
        llm = OpenAICompatibleLLM(f"{url}/v1", model_id="tandem", timeout_s=120)
        yield llm
        llm.close()


def test_stream_matches_greedy_generate(server: Any, real_llm: TransformersLocalLLM) -> None:
    url, components = server
    question = "What is the capital of France?"
    tokens: list[str] = []
    final: dict[str, Any] = {}
    with httpx.stream(
        "POST", f"{url}/v1/query", json={"question": question, "stream": True}, timeout=120
    ) as r:
        assert r.status_code == 200
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "token":
                    tokens.append(data["text"])
                else:
                    final = data
    assert len(tokens) >= 2
    assert final["cache"] == "miss"
    assert final["models"]["llm"] == LLM_MODEL_ID
    assert final["answer"] == "".join(tokens).strip()
    # greedy: the service streams exactly what a direct generate() gives for the same prompt
    state = components.indexes.require()
    hits = state.index.search(components.encoder.encode([question])[0], question, 5)
    messages = build_messages(question, hits, prompt_version=components.settings.prompt_version)
    assert final["answer"] == real_llm.generate(messages, max_new_tokens=16)


def test_openai_client(server: Any) -> None:
    from openai import OpenAI

    url, _ = server
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
    resp = client.chat.completions.create(
        model="tandem",
        messages=[{"role": "user", "content": "Who won Super Bowl 50?"}],
    )
    content = resp.choices[0].message.content
    assert content
    # the cap is the service's 16 tokens: "length" exactly when the answer used all of them
    assert resp.usage is not None
    finish = resp.choices[0].finish_reason
    assert finish == ("length" if resp.usage.completion_tokens >= 16 else "stop")
    extra = resp.model_extra or {}
    assert extra["tandem"]["cache"] == "miss"
    assert extra["tandem"]["sources"][0]["doc_id"] == "sb50"

    stream = client.chat.completions.create(
        model="tandem",
        messages=[{"role": "user", "content": "Who won Super Bowl 50?"}],
        stream=True,
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == content  # served from the cache now, same answer

    models = client.models.list()
    assert [m.id for m in models.data] == [LLM_MODEL_ID, "tandem"]
