"""The upstream LLM (``core.llm.upstream.OpenAICompatibleLLM``) refusing connections and never
answering, behind a real uvicorn server: answers degrade to their sources with ``answer: null``,
the circuit breaker opens and then fails fast, the chat API answers the same way (200, no
content, the sources in ``tandem``), and nothing is cached."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.llm.breaker import CircuitBreaker
from core.llm.upstream import OpenAICompatibleLLM
from online.app import create_app
from online.components import build_components
from tests.faults.conftest import QUESTIONS, LoadCounts, record
from tests.online.conftest import free_port, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILURES_TO_OPEN = 2


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


@pytest.fixture
def closed_upstream() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # bound and released: connections are refused


@pytest.mark.parametrize("fault", ["refused", "timeout"])
def test_llm_upstream_down_degrades_to_sources_and_opens_the_breaker(
    fault: str,
    request: pytest.FixtureRequest,
    settings_factory: Any,
    encoder: Any,
    redis_client: Any,
) -> None:
    base_url = request.getfixturevalue(
        "closed_upstream" if fault == "refused" else "silent_upstream"
    )
    breaker = CircuitBreaker(failures=FAILURES_TO_OPEN, cooldown_s=120)
    llm = OpenAICompatibleLLM(
        base_url, model_id="upstream-m", timeout_s=1.0, retries=0, backoff_s=0.0, breaker=breaker
    )
    settings = settings_factory(llm_timeout_s=5.0)
    components = build_components(settings, encoder=encoder, llm=llm)
    counts, latencies, degraded = LoadCounts(), [], set()
    with running_server(create_app(settings, components=components)) as url:
        for question in QUESTIONS:
            started = time.monotonic()
            r = httpx.post(f"{url}/v1/query", json={"question": question}, timeout=30)
            latencies.append(time.monotonic() - started)
            counts.add(r, latencies[-1])
            body = r.json()
            assert r.status_code == 200, r.text
            assert body["answer"] is None, body
            assert body["sources"], body
            degraded.add(body["degraded"].split(":")[0])
        ready = httpx.get(f"{url}/readyz", timeout=10).json()
        chat = httpx.post(
            f"{url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "Who created Python?"}]},
            timeout=30,
        )
        again = httpx.post(f"{url}/v1/query", json={"question": QUESTIONS[0]}, timeout=30).json()
    llm.close()

    assert breaker.state == "open"
    assert ready["models"]["llm_ready"] is False
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"] is None
    assert chat.json()["tandem"]["finish_reason"] == "llm_unavailable"
    assert again["answer"] is None
    assert again["cache"] != "exact"
    # once open, the breaker fails fast: no connect attempt, no timeout waited for
    fast = latencies[FAILURES_TO_OPEN:]
    assert max(fast) < 0.8, latencies  # under the 1 s timeout an attempt would wait
    record(
        f"llm_{fault}",
        {
            **counts.figures(),
            "degraded": sorted(degraded),
            "breaker": breaker.state,
            "latency_s_before_open": [round(x, 2) for x in latencies[:FAILURES_TO_OPEN]],
            "max_latency_s_after_open": round(max(fast), 3),
            "chat_status": chat.status_code,
        },
    )
