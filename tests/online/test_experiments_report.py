"""Statistics of the A/B report on synthetic logs with known answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from online.experiments.report import (
    ReportError,
    bootstrap_percentile_ci,
    build_report,
    two_proportion_z_test,
    wilson_interval,
)
from shared_schemas.events import FeedbackEvent, QueryLogEvent

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _q(i: int, variant: str, latency: float, *, hit: bool = False, error: bool = False):
    return QueryLogEvent(
        query_id=f"{variant}-{i}",
        question="q",
        normalized_key="q",
        ts=T0 + timedelta(seconds=i),
        cache="exact" if hit else "miss",
        variant=variant,
        latency_ms=latency,
        status="error" if error else "ok",
    )


def _fb(qid: str, rating: int, *, variant: str = "default", at: int = 0) -> FeedbackEvent:
    return FeedbackEvent(
        query_id=qid, rating=rating, ts=T0 + timedelta(seconds=at), variant=variant
    )


def test_wilson_interval_known_values() -> None:
    # textbook values (Wilson 1927; e.g. Newcombe 1998, table I): 81/263 -> 0.2553 .. 0.3662
    ci = wilson_interval(81, 263)
    assert ci is not None
    assert (ci.low, ci.high) == pytest.approx((0.2553, 0.3662), abs=5e-4)
    half = wilson_interval(50, 100)
    assert half is not None
    assert (half.low, half.high) == pytest.approx((0.4038, 0.5962), abs=5e-4)
    zero = wilson_interval(0, 10)
    assert zero is not None
    assert zero.low == 0
    assert zero.high == pytest.approx(0.2775, abs=5e-4)
    assert wilson_interval(0, 0) is None


def test_two_proportion_z_known_value_and_chi_square_agreement() -> None:
    z, p = two_proportion_z_test(50, 100, 30, 100) or (0.0, 1.0)
    assert z == pytest.approx(2.8868, abs=1e-3)
    assert p == pytest.approx(0.003892, abs=1e-5)
    chi2, p_chi, _, _ = chi2_contingency([[50, 50], [30, 70]], correction=False)
    assert z * z == pytest.approx(chi2)
    assert p == pytest.approx(p_chi)
    assert two_proportion_z_test(0, 0, 1, 2) is None
    assert two_proportion_z_test(0, 10, 0, 10) == (0.0, 1.0)


def test_bootstrap_ci_covers_the_true_percentile_and_narrows() -> None:
    rng = np.random.default_rng(7)
    true_p95 = -100 * math.log(0.05)  # exponential(scale=100)
    small = bootstrap_percentile_ci(rng.exponential(100, 400), 95, n_boot=400, seed=1)
    big = bootstrap_percentile_ci(rng.exponential(100, 8000), 95, n_boot=400, seed=1)
    assert small is not None
    assert big is not None
    assert true_p95 in small
    assert true_p95 in big
    assert big.high - big.low < (small.high - small.low) / 2
    same = bootstrap_percentile_ci([5.0] * 30, 99, seed=3)
    assert same is not None
    assert (same.low, same.high) == (5.0, 5.0)
    assert bootstrap_percentile_ci([], 50) is None


def _synthetic() -> tuple[list[QueryLogEvent], list[FeedbackEvent]]:
    events: list[QueryLogEvent] = []
    # baseline: latencies 1..1000 ms, 40% cache hits, 1% errors
    for i in range(1000):
        events.append(_q(i, "default", float(i + 1), hit=i % 5 < 2, error=i % 100 == 0))
    # canary: twice as slow, 10% hits, 5% errors
    for i in range(1000):
        events.append(_q(i, "canary", 2.0 * (i + 1), hit=i % 10 == 0, error=i % 20 == 0))
    feedback = [_fb(f"default-{i}", 1 if i < 60 else -1) for i in range(100)]  # 60% positive
    feedback += [_fb(f"canary-{i}", 1 if i < 30 else -1) for i in range(100)]  # 30% positive
    feedback.append(_fb("canary-0", -1, at=10))  # a later change of mind: 29 positive of 100
    feedback.append(_fb("missing-query", 1, variant="canary"))  # not in the log
    return events, feedback


def test_report_per_variant_figures_match_known_answers() -> None:
    events, feedback = _synthetic()
    report = build_report(events, feedback, n_boot=300, seed=5)
    assert report.baseline == "default"
    assert [v.variant for v in report.variants] == ["default", "canary"]
    base, canary = report.variant("default"), report.variant("canary")
    assert base.queries == canary.queries == 1000
    # numpy linear percentiles of 1..1000
    assert base.percentile(50).value == pytest.approx(500.5)
    assert base.percentile(95).value == pytest.approx(950.05)
    assert base.percentile(99).value == pytest.approx(990.01)
    assert canary.percentile(95).value == pytest.approx(1900.1)
    for p in base.latency:
        assert p.ci is not None
        assert p.value is not None
        assert p.value in p.ci
    assert base.cache_hit.value == pytest.approx(0.4)
    assert canary.cache_hit.value == 0.1
    assert base.error.value == pytest.approx(0.01)
    assert canary.error.value == pytest.approx(0.05)
    assert base.positive_feedback.total == 100
    assert base.positive_feedback.value == 0.6
    assert canary.positive_feedback.successes == 30  # 29 matched + 1 unmatched, positive
    assert canary.positive_feedback.total == 101
    assert report.feedback_unmatched == 1
    assert report.notes
    ci = canary.error.ci
    assert ci is not None
    assert wilson_interval(50, 1000) == ci


def test_report_significance_against_the_baseline() -> None:
    events, feedback = _synthetic()
    canary = build_report(events, feedback, n_boot=200).variant("canary")
    assert build_report(events, feedback, n_boot=200).variant("default").vs_baseline == ()
    hit = canary.comparison("cache_hit_rate")
    assert hit.difference == pytest.approx(-0.3)
    expected = two_proportion_z_test(100, 1000, 400, 1000)
    assert expected is not None
    assert hit.p_value == pytest.approx(expected[1])
    assert hit.significant()
    assert canary.comparison("error_rate").significant()
    assert canary.comparison("latency").significant()
    assert canary.comparison("latency").difference == pytest.approx(1900.1 - 950.05)
    fb = canary.comparison("positive_feedback_rate")
    assert fb.p_value is not None
    assert fb.p_value < 0.001


def test_identical_arms_are_not_significant() -> None:
    events = [_q(i, v, float(i % 97), hit=i % 3 == 0) for v in ("a", "b") for i in range(500)]
    report = build_report(events, baseline="a", n_boot=100)
    b = report.variant("b")
    assert all(not c.significant() for c in b.vs_baseline)
    assert b.comparison("positive_feedback_rate").p_value is None  # no feedback at all


def test_baseline_choice_and_errors() -> None:
    events = [_q(i, "big", 1.0) for i in range(5)] + [_q(i, "small", 1.0) for i in range(2)]
    assert build_report(events, n_boot=10).baseline == "big"
    assert build_report(events, baseline="small", n_boot=10).baseline == "small"
    with pytest.raises(ReportError, match="no events"):
        build_report(events, baseline="nope")
    with pytest.raises(ReportError, match="no query-log events"):
        build_report([])
    assert build_report(events, n_boot=10).to_dict()["variants"][0]["variant"] == "big"


pytestmark = pytest.mark.unit  # pure logic: `make unit`
