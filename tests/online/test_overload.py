"""Under load: a slow cache lookup is waited for, never turned into generation (a full
generation queue refused before embedding: ``test_degradation.py``)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.online.conftest import free_port

pytestmark = [pytest.mark.integration]


@pytest.fixture
def private_redis() -> Iterator[Any]:
    """A Redis server of this test's own, which it may pause without stalling anyone else's."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    limit = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > limit or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.01)  # waiting for start-up, not synchronising test steps
    try:
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def _url(client: Any) -> str:
    return f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"


QUESTION = {"question": "What is the capital of Italy?"}


def test_a_slow_lookup_is_waited_for_not_generated(
    client_factory: Any, settings_factory: Any, fake_llm: Any, private_redis: Any
) -> None:
    client, _ = client_factory(settings_factory(redis_url=_url(private_redis)), fake_llm)
    assert client.post("/v1/query", json=QUESTION).json()["cache"] == "miss"
    assert fake_llm.calls == 1
    private_redis.client_pause(1500, all=True)  # Redis healthy, but 1.5 s behind
    r = client.post("/v1/query", json=QUESTION)
    assert r.status_code == 200, r.text
    assert r.json()["cache"] == "exact"
    assert fake_llm.calls == 1


def test_a_lookup_past_the_budget_is_refused_not_generated(
    client_factory: Any, settings_factory: Any, fake_llm: Any, private_redis: Any
) -> None:
    settings = settings_factory(redis_url=_url(private_redis), cache_wait_s=0.2)
    client, _ = client_factory(settings, fake_llm)
    assert client.post("/v1/query", json=QUESTION).json()["cache"] == "miss"
    private_redis.client_pause(1500, all=True)
    r = client.post("/v1/query", json=QUESTION)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "overloaded"
    assert r.headers["retry-after"] == "2"
    assert fake_llm.calls == 1
    assert 'tandem_cache_unavailable_total{operation="get_slow"}' in client.get("/metrics").text
