"""The experiment state replicas share in Redis (real Redis, two ``Experiments`` in one process):
a rollback judged by one is adopted by the other, an operator's restore reaches both, and a
rollback judged while Redis is unreachable is written once it answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import RedisError

from core.redis_clients import async_redis
from online.experiments import CanaryGuard, CanaryPolicy, Variant, VariantRouter
from online.experiments.service import Experiments
from online.experiments.shared import SharedExperimentState, experiment_id, read_events
from online.metrics import ServiceMetrics
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration

VARIANTS = (Variant(name="base", weight=3, baseline=True), Variant(name="canary", weight=1))
POLICY = CanaryPolicy(min_samples=4, window=10, check_every=1, error_margin=0.1)


def _replica(redis: Any, name: str, *, url_redis: Any = None) -> Experiments:
    router = VariantRouter(VARIANTS, salt="shared-test")
    metrics = ServiceMetrics()
    shared = SharedExperimentState(
        url_redis or redis, experiment_id(VARIANTS, "shared-test"), replica=name
    )
    guard = CanaryGuard(router, POLICY, counter=metrics.canary_rollbacks)
    return Experiments(router, guard, metrics=metrics, shared=shared)


def _fail_canary(exp: Experiments) -> None:
    for i in range(4):
        exp.finished(f"b{i}", "base", latency_ms=10.0, error=False)
    for i in range(4):
        exp.finished(f"c{i}", "canary", latency_ms=10.0, error=True)


def test_rollback_adopted_and_restore_followed(redis_client: Any) -> None:
    async def scenario() -> None:
        redis = async_redis(TEST_REDIS_URL)
        one, two = _replica(redis, "one"), _replica(redis, "two")
        assert not await one.sync()
        assert not await two.sync()
        _fail_canary(one)  # in force here at once; shared by a sync
        assert one.router.weights()["canary"] == 0.0
        assert two.router.weights()["canary"] == 1.0
        await one.sync()
        assert await two.sync()
        assert two.router.weights() == {"base": 3.0, "canary": 0.0}
        assert two.guard is not None
        assert two.guard.rolled_back == {"canary"}
        # a third replica started later begins rolled back
        three = _replica(redis, "three")
        await three.sync()
        assert three.router.weights()["canary"] == 0.0
        assert three.router.assign(user_id="u", header="canary", allow_override=True).name == "base"

        assert one.shared is not None
        await one.shared.restore("canary", 2.0)
        for exp in (one, two, three):
            await exp.sync()
            assert exp.router.weights() == {"base": 3.0, "canary": 2.0}
            assert exp.guard is not None
            assert exp.guard.rolled_back == frozenset()
        await redis.aclose()

    asyncio.run(scenario())
    kinds = [(e.kind, e.variant, e.replica) for e in read_events(redis_client)]
    assert kinds == [("rollback", "canary", "one"), ("restore", "canary", "one")]


def test_a_rollback_judged_while_redis_is_down_is_written_later(redis_client: Any) -> None:
    async def scenario() -> None:
        redis = async_redis(TEST_REDIS_URL)
        dead = async_redis("redis://127.0.0.1:1/0")  # nothing listens on port 1
        one = _replica(redis, "one", url_redis=dead)
        _fail_canary(one)
        with pytest.raises(RedisError):
            await one.sync()
        assert one.router.weights()["canary"] == 0.0  # in force here all the same
        assert one.shared is not None
        one.shared.redis = redis  # Redis is back
        await one.sync()
        two = _replica(redis, "two")
        await two.sync()
        assert two.router.weights()["canary"] == 0.0
        await dead.aclose()
        await redis.aclose()

    asyncio.run(scenario())
    assert [e.kind for e in read_events(redis_client)] == ["rollback"]
