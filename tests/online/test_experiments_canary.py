"""The automatic canary rollback rule: fires when it should, and only then."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, Counter

from online.experiments import CanaryGuard, CanaryPolicy, Variant, VariantError, VariantRouter


def _router() -> VariantRouter:
    return VariantRouter(
        [Variant(name="stable", weight=90), Variant(name="canary", weight=10)], salt="t"
    )


def _counter() -> tuple[Counter, CollectorRegistry]:
    reg = CollectorRegistry()
    return Counter("rollbacks", "test", ["variant", "reason"], registry=reg), reg


def _feed(guard: CanaryGuard, variant: str, n: int, *, error_every: int = 0, ms: float = 100.0):
    events = []
    for i in range(n):
        err = error_every > 0 and (i + 1) % error_every == 0
        events.append(guard.record(variant, latency_ms=ms + (i % 10), error=err))
    return [e for e in events if e is not None]


POLICY = CanaryPolicy(error_margin=0.02, latency_margin=0.25, min_samples=100, window=500)


def test_error_rate_over_margin_rolls_back(caplog: pytest.LogCaptureFixture) -> None:
    router = _router()
    counter, reg = _counter()
    guard = CanaryGuard(router, POLICY, counter=counter)
    _feed(guard, "stable", 200, error_every=100)  # 1% errors
    with caplog.at_level(logging.WARNING, logger="online.experiments.canary"):
        fired = _feed(guard, "canary", 150, error_every=10)  # 10% errors
    assert len(fired) == 1
    event = fired[0]
    assert (event.variant, event.reason, event.baseline) == ("canary", "error_rate", "stable")
    assert event.canary_samples == 100  # fires as soon as the minimum sample is reached
    assert router.weights()["canary"] == 0
    assert guard.rolled_back == {"canary"}
    assert reg.get_sample_value("rollbacks_total", {"variant": "canary", "reason": "error_rate"})
    assert "canary canary rolled back (error_rate)" in caplog.text
    assert all(router.assign(user_id=f"u{i}").name == "stable" for i in range(200))


def test_p95_latency_over_margin_rolls_back() -> None:
    router = _router()
    guard = CanaryGuard(router, POLICY, counter=_counter()[0])
    _feed(guard, "stable", 200, ms=100)
    fired = _feed(guard, "canary", 100, ms=140)  # p95 ~149 > 109 * 1.25
    assert [e.reason for e in fired] == ["p95_latency"]
    assert fired[0].canary_value > fired[0].baseline_value * 1.25
    assert router.weights()["canary"] == 0


def test_within_margins_does_not_fire() -> None:
    router = _router()
    counter, reg = _counter()
    guard = CanaryGuard(router, POLICY, counter=counter)
    _feed(guard, "stable", 300, error_every=50, ms=100)  # 2% errors
    fired = _feed(guard, "canary", 300, error_every=30, ms=120)  # 3.3% (< 2% + 2%), p95 +18%
    assert fired == []
    assert router.weights()["canary"] == 10
    assert guard.rolled_back == frozenset()
    assert (
        reg.get_sample_value("rollbacks_total", {"variant": "canary", "reason": "error_rate"})
        is None
    )


def test_below_minimum_sample_does_not_fire() -> None:
    router = _router()
    guard = CanaryGuard(router, POLICY, counter=_counter()[0])
    _feed(guard, "stable", 200)
    assert _feed(guard, "canary", 99, error_every=2) == []  # 50% errors, but 99 < 100
    assert _feed(guard, "canary", 1, error_every=1) != []  # the 100th request decides


def test_baseline_sample_is_needed_too_and_baseline_traffic_can_trigger() -> None:
    router = _router()
    guard = CanaryGuard(router, POLICY, counter=_counter()[0])
    assert _feed(guard, "canary", 150, error_every=5) == []  # no baseline yet
    fired = _feed(guard, "stable", 100)  # the baseline's 100th request triggers the check
    assert [e.variant for e in fired] == ["canary"]


def test_fires_once_and_reset_restores_traffic() -> None:
    router = _router()
    guard = CanaryGuard(router, POLICY, counter=_counter()[0])
    _feed(guard, "stable", 200)
    assert len(_feed(guard, "canary", 300, error_every=5)) == 1
    guard.reset("canary", 10)
    assert router.weights()["canary"] == 10
    assert guard.stats("canary").samples == 0


def test_rolling_window_forgets_old_errors() -> None:
    router = _router()
    policy = CanaryPolicy(error_margin=0.02, min_samples=100, window=100)
    guard = CanaryGuard(router, policy, counter=_counter()[0])
    _feed(guard, "canary", 99, error_every=1)  # all errors, below the sample
    _feed(guard, "canary", 200)  # then healthy: the errors leave the window
    assert guard.stats("canary").error_rate == 0
    assert _feed(guard, "stable", 150) == []


def test_disabled_policy_counts_but_keeps_weight() -> None:
    router = _router()
    counter, reg = _counter()
    guard = CanaryGuard(router, POLICY.model_copy(update={"enabled": False}), counter=counter)
    _feed(guard, "stable", 200)
    assert len(_feed(guard, "canary", 200, error_every=3)) == 1
    assert router.weights()["canary"] == 10
    assert reg.get_sample_value("rollbacks_total", {"variant": "canary", "reason": "error_rate"})


def test_policy_checks() -> None:
    with pytest.raises(ValueError, match="window"):
        CanaryPolicy(min_samples=100, window=10)
    with pytest.raises(VariantError, match="unknown"):
        CanaryGuard(_router(), CanaryPolicy(canaries=("ghost",)))
    with pytest.raises(VariantError, match="baseline"):
        CanaryGuard(_router(), CanaryPolicy(canaries=("stable",)))
    unknown = CanaryGuard(_router(), POLICY, counter=_counter()[0])
    assert unknown.record("ghost", latency_ms=1, error=True) is None


pytestmark = pytest.mark.unit  # pure logic: `make unit`
