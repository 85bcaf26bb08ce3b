"""API keys and rate limits: 429 with Retry-After, per client, shared by every replica through
Redis; live generations and refinements in buckets of their own; refinements de-duplicated."""

from __future__ import annotations

from typing import Any

import pytest

from online.limits.config import hash_key
from shared_schemas.layout import REFINE_STREAM

pytestmark = [pytest.mark.integration]

SLOW = {"rate_per_s": 0.001, "burst": 2}  # two at once, then one per ~17 minutes
OPEN = {"rate_per_s": 1000, "burst": 1000}


def limits(**buckets: Any) -> dict[str, Any]:
    return {"enabled": True, "requests": OPEN, "generations": OPEN, "refines": OPEN, **buckets}


def test_over_the_request_limit_is_429_with_retry_after(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    client, _ = client_factory(settings_factory(rate_limits=limits(requests=SLOW)), fake_llm)
    body = {"question": "Where is Berlin?"}
    assert client.post("/v1/query", json=body).status_code == 200  # a miss
    assert client.post("/v1/query", json=body).json()["cache"] == "exact"  # the fast path
    r = client.post("/v1/query", json=body)
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "rate_limited"
    assert r.json()["bucket"] == "requests"
    assert int(r.headers["retry-after"]) >= 900
    metrics = client.get("/metrics").text  # not under /v1: never limited
    assert (
        'tandem_rate_limit_decisions_total{bucket="requests",client="address",outcome="limited"}'
        " 1.0" in metrics
    )
    assert 'tandem_rate_limit{bucket="requests",figure="burst"} 2.0' in metrics


def test_limits_hold_across_two_service_processes(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    settings = settings_factory(rate_limits=limits(requests=SLOW))
    first, _ = client_factory(settings, fake_llm)
    second, _ = client_factory(settings, fake_llm)
    body = {"question": "Where is Berlin?"}
    assert first.post("/v1/query", json=body).status_code == 200
    assert second.post("/v1/query", json=body).status_code == 200
    r = first.post("/v1/query", json=body)
    assert r.status_code == 429
    assert second.post("/v1/query", json=body).status_code == 429


def test_generations_are_limited_apart_from_cache_hits(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    settings = settings_factory(rate_limits=limits(generations={"rate_per_s": 0.001, "burst": 1}))
    client, _ = client_factory(settings, fake_llm)
    assert client.post("/v1/query", json={"question": "Where is Berlin?"}).status_code == 200
    r = client.post("/v1/query", json={"question": "How long is the Nile?"})
    assert r.status_code == 429
    assert r.json()["bucket"] == "generations"
    assert "retry-after" in r.headers
    assert fake_llm.calls == 1
    for _ in range(3):  # the cached answer costs no generation
        hit = client.post("/v1/query", json={"question": "Where is Berlin?"})
        assert hit.status_code == 200
        assert hit.json()["cache"] == "exact"
    streamed = client.post("/v1/query", json={"question": "Where is Rome?", "stream": True})
    assert streamed.status_code == 429


def test_api_keys_carry_their_own_limits(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    keys = [
        {"sha256": hash_key("alpha-secret"), "tenant": "alpha", "requests": SLOW},
        {"sha256": hash_key("beta-secret"), "tenant": "beta"},
    ]
    settings = settings_factory(rate_limits=limits(), api_keys=keys, api_keys_required=True)
    client, _ = client_factory(settings, fake_llm)
    body = {"question": "Where is Berlin?"}
    missing = client.post("/v1/query", json=body)
    assert missing.status_code == 401
    assert client.post("/v1/query", json=body, headers={"X-API-Key": "nope"}).status_code == 401
    alpha = {"X-API-Key": "alpha-secret"}
    assert client.post("/v1/query", json=body, headers=alpha).status_code == 200
    assert client.post("/v1/query", json=body, headers=alpha).status_code == 200
    assert client.post("/v1/query", json=body, headers=alpha).status_code == 429
    beta = {"Authorization": "Bearer beta-secret"}
    for _ in range(3):  # another key, another bucket, the defaults
        assert client.post("/v1/query", json=body, headers=beta).status_code == 200
    assert client.get("/healthz").status_code == 200  # only /v1 needs a key


def test_refinements_are_limited_and_deduplicated(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    settings = settings_factory(rate_limits=limits(refines={"rate_per_s": 0.001, "burst": 2}))
    client, _ = client_factory(settings, fake_llm)
    body = {"question": "Where is Berlin?", "refine": True}
    one = client.post("/v1/query", json=body).json()["refine"]
    two = client.post("/v1/query", json=body).json()["refine"]
    assert one["id"] == two["id"]
    assert two["status"] == "queued"
    assert redis_client.xlen(REFINE_STREAM) == 1
    r = client.post("/v1/query", json=body)
    assert r.status_code == 429
    assert r.json()["bucket"] == "refines"


def test_with_redis_unreachable_each_replica_still_holds_the_limit(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    """Redis down (or a cluster shard failing over): the limiter decides on the replica with
    the same rule instead of letting every request through unchecked (issues 26, 27)."""
    settings = settings_factory(
        redis_url="redis://127.0.0.1:1/0", rate_limits=limits(requests=SLOW)
    )
    client, _ = client_factory(settings, fake_llm)
    body = {"question": "Where is Berlin?"}
    statuses = [client.post("/v1/query", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    metrics = client.get("/metrics").text
    # decided on the replica: 3 in the requests bucket, 2 in the generations one (the misses)
    assert "tandem_rate_limit_errors_total 5.0" in metrics
    assert (
        'tandem_rate_limit_decisions_total{bucket="requests",client="address",outcome="limited"}'
        " 1.0" in metrics
    )


def test_a_connection_closed_mid_command_is_redis_down_not_a_500() -> None:
    """redis-py 8's asyncio client raised AttributeError ("'NoneType' object has no attribute
    'writelines'") for a connection closed under a command, with a cluster master killed under
    load: the limiter let it out and the request was a 500. It decides on the replica."""
    import asyncio

    from online.errors import RateLimitedError
    from online.limits.config import RateLimits
    from online.limits.limiter import RedisRateLimiter

    class _ClosedUnderUs:
        async def eval(self, *args: Any) -> Any:
            raise AttributeError("'NoneType' object has no attribute 'writelines'")

    limiter = RedisRateLimiter(
        _ClosedUnderUs(), limits=RateLimits.model_validate(limits(requests=SLOW))
    )

    async def three() -> list[str]:
        out = []
        for _ in range(3):
            try:
                await limiter.admit("addr:1.2.3.4", "requests")
                out.append("allowed")
            except RateLimitedError:
                out.append("limited")
        return out

    assert asyncio.run(three()) == ["allowed", "allowed", "limited"]  # the burst of 2, locally
