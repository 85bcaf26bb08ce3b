"""``top_k`` changes the answer, and it is not in the cache key: only the default ``top_k`` is
written through and served from the cache."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Q = "Which river flows through Paris?"


def test_only_the_default_top_k_is_cached(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, _ = client_factory(settings_factory(top_k=3), fake_llm)

    one = client.post("/v1/query", json={"question": Q, "top_k": 1}).json()
    assert one["cache"] == "miss"
    assert len(one["sources"]) == 1
    again = client.post("/v1/query", json={"question": Q, "top_k": 1}).json()
    assert again["cache"] == "miss"  # not written through
    default = client.post("/v1/query", json={"question": Q}).json()
    assert default["cache"] == "miss"  # the top_k=1 answer was not served to everyone
    assert len(default["sources"]) == 3
    assert client.post("/v1/query", json={"question": Q}).json()["cache"] == "exact"
    assert client.post("/v1/query", json={"question": Q, "top_k": 3}).json()["cache"] == "exact"

    five = client.post("/v1/query", json={"question": Q, "top_k": 5}).json()
    assert five["cache"] == "miss"  # a cached default answer is not served for another top_k
    assert len(five["sources"]) == 5
    similar = client.post("/v1/query", json={"question": Q + "  ", "top_k": 5}).json()
    assert similar["cache"] == "miss"
