"""Statistics of ``tandem ab report``: per-variant figures with intervals, and tests.

Pure functions over parsed events (no Redis, no printing), so they are tested on synthetic logs
with known answers:

- rates (cache hit, error, positive feedback) with Wilson score intervals, compared with the
  baseline by a two-proportion z-test (pooled; equal to Pearson's chi-square without continuity
  correction on the 2x2 table);
- latency percentiles p50/p95/p99 with percentile-bootstrap intervals (seeded: the same logs give
  the same report), compared with the baseline by the Mann-Whitney U test.

A query counts as a cache hit when its ``cache`` outcome is ``exact`` or ``semantic``; as an
error when its ``status`` is ``error``. Feedback is attributed to the variant of its query when
the query is in the log (else to the variant the feedback event names); when one query has
several feedback events the latest counts. The positive rate is ``rating == 1`` over all rated
answers of the variant.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from online.experiments.variants import DEFAULT_VARIANT, ExperimentError
from shared_schemas.events import FeedbackEvent, QueryLogEvent

PERCENTILES = (50.0, 95.0, 99.0)
CACHE_HITS = frozenset({"exact", "semantic"})


class ReportError(ExperimentError):
    """The logs cannot give a report (no events, unknown baseline)."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True)
class Rate:
    successes: int
    total: int
    value: float | None
    ci: Interval | None


@dataclass(frozen=True)
class Percentile:
    q: float
    value: float | None
    ci: Interval | None


@dataclass(frozen=True)
class Comparison:
    metric: str
    test: str
    difference: float | None
    statistic: float | None
    p_value: float | None

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value is not None and self.p_value < alpha


@dataclass(frozen=True)
class VariantReport:
    variant: str
    queries: int
    latency: tuple[Percentile, ...]
    cache_hit: Rate
    error: Rate
    positive_feedback: Rate
    vs_baseline: tuple[Comparison, ...] = ()

    def percentile(self, q: float) -> Percentile:
        return next(p for p in self.latency if p.q == q)

    def comparison(self, metric: str) -> Comparison:
        return next(c for c in self.vs_baseline if c.metric == metric)


@dataclass(frozen=True)
class ABReport:
    baseline: str
    confidence: float
    variants: tuple[VariantReport, ...]
    feedback_unmatched: int = 0
    notes: tuple[str, ...] = field(default=())

    def variant(self, name: str) -> VariantReport:
        for v in self.variants:
            if v.variant == name:
                return v
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- intervals and tests -------------------------------------------------------------------


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ReportError(f"confidence must be in (0, 1), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: int, total: int, *, confidence: float = 0.95) -> Interval | None:
    """Wilson score interval of a binomial proportion; ``None`` when there are no trials."""
    if total <= 0:
        return None
    if not 0 <= successes <= total:
        raise ReportError(f"successes {successes} out of range for {total} trials")
    z = _z(confidence)
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def rate(successes: int, total: int, *, confidence: float = 0.95) -> Rate:
    value = successes / total if total > 0 else None
    return Rate(successes, total, value, wilson_interval(successes, total, confidence=confidence))


def two_proportion_z_test(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float] | None:
    """Pooled two-sided z-test of p1 == p2: ``(z, p_value)``; ``None`` when undefined."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (0.0, 1.0)
    z = (s1 / n1 - s2 / n2) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def percentile_value(values: Sequence[float] | np.ndarray, q: float) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.percentile(arr, q)) if arr.size else None


def bootstrap_percentile_ci(
    values: Sequence[float] | np.ndarray,
    q: float,
    *,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> Interval | None:
    """Percentile-bootstrap interval of the ``q``-th percentile (resampling in chunks)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return None
    if arr.size == 1:
        return Interval(float(arr[0]), float(arr[0]))
    _z(confidence)  # validates
    rng = np.random.default_rng(seed)
    per_chunk = max(1, 2_000_000 // arr.size)
    estimates: list[np.ndarray] = []
    done = 0
    while done < n_boot:
        reps = min(per_chunk, n_boot - done)
        idx = rng.integers(0, arr.size, size=(reps, arr.size))
        estimates.append(np.percentile(arr[idx], q, axis=1))
        done += reps
    boot = np.concatenate(estimates)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float] | None:
    if len(a) == 0 or len(b) == 0:
        return None
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


# --- the report ----------------------------------------------------------------------------


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    hits: int = 0
    errors: int = 0
    rated: int = 0
    positive: int = 0


def _tally(
    events: Iterable[QueryLogEvent], feedback: Iterable[FeedbackEvent]
) -> tuple[dict[str, _Tally], int]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    variant_of: dict[str, str] = {}
    for ev in events:
        t = tallies[ev.variant]
        t.latencies.append(ev.latency_ms)
        t.hits += ev.cache in CACHE_HITS
        t.errors += ev.status == "error"
        variant_of[ev.query_id] = ev.variant
    latest: dict[str, FeedbackEvent] = {}
    for fb in feedback:
        prev = latest.get(fb.query_id)
        if prev is None or fb.ts >= prev.ts:
            latest[fb.query_id] = fb
    unmatched = 0
    for qid, fb in latest.items():
        variant = variant_of.get(qid)
        if variant is None:
            unmatched += 1
            variant = fb.variant
        t = tallies[variant]
        t.rated += 1
        t.positive += fb.rating == 1
    return dict(tallies), unmatched


def _choose_baseline(tallies: dict[str, _Tally], baseline: str | None) -> str:
    if baseline is not None:
        if baseline not in tallies:
            raise ReportError(
                f"baseline {baseline!r} has no events; variants seen: {', '.join(sorted(tallies))}"
            )
        return baseline
    if DEFAULT_VARIANT in tallies:
        return DEFAULT_VARIANT
    return max(sorted(tallies), key=lambda v: len(tallies[v].latencies))


def _compare(t: _Tally, b: _Tally) -> tuple[Comparison, ...]:
    out: list[Comparison] = []
    pairs = {
        "cache_hit_rate": (t.hits, len(t.latencies), b.hits, len(b.latencies)),
        "error_rate": (t.errors, len(t.latencies), b.errors, len(b.latencies)),
        "positive_feedback_rate": (t.positive, t.rated, b.positive, b.rated),
    }
    for metric, (s1, n1, s2, n2) in pairs.items():
        res = two_proportion_z_test(s1, n1, s2, n2)
        diff = s1 / n1 - s2 / n2 if n1 and n2 else None
        out.append(
            Comparison(
                metric,
                "two-proportion z",
                diff,
                res[0] if res else None,
                res[1] if res else None,
            )
        )
    mw = mann_whitney(t.latencies, b.latencies)
    p95_t, p95_b = percentile_value(t.latencies, 95), percentile_value(b.latencies, 95)
    out.append(
        Comparison(
            "latency",
            "mann-whitney u",
            p95_t - p95_b if p95_t is not None and p95_b is not None else None,
            mw[0] if mw else None,
            mw[1] if mw else None,
        )
    )
    return tuple(out)


def build_report(
    events: Iterable[QueryLogEvent],
    feedback: Iterable[FeedbackEvent] = (),
    *,
    baseline: str | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> ABReport:
    """Per-variant figures and comparisons with the baseline (``default`` or the biggest arm)."""
    tallies, unmatched = _tally(events, feedback)
    if not tallies:
        raise ReportError("no query-log events to report on")
    base = _choose_baseline(tallies, baseline)
    reports: list[VariantReport] = []
    for name in [base, *sorted(v for v in tallies if v != base)]:
        t = tallies[name]
        n = len(t.latencies)
        latency = tuple(
            Percentile(
                q,
                percentile_value(t.latencies, q),
                bootstrap_percentile_ci(
                    t.latencies, q, confidence=confidence, n_boot=n_boot, seed=seed
                ),
            )
            for q in PERCENTILES
        )
        reports.append(
            VariantReport(
                variant=name,
                queries=n,
                latency=latency,
                cache_hit=rate(t.hits, n, confidence=confidence),
                error=rate(t.errors, n, confidence=confidence),
                positive_feedback=rate(t.positive, t.rated, confidence=confidence),
                vs_baseline=() if name == base else _compare(t, tallies[base]),
            )
        )
    notes = []
    if unmatched:
        notes.append(
            f"{unmatched} feedback events name queries not in the log window; "
            "attributed to the variant the feedback event carries"
        )
    return ABReport(base, confidence, tuple(reports), unmatched, tuple(notes))
