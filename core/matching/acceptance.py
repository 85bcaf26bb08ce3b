"""Acceptance under an error bound: a cut learned from verified outcomes, not a tuned number.

Given labelled outcomes (a score, and whether serving at that score was right), the rule accepts
scores above the lowest cut whose wrong share among the outcomes it would accept has a one-sided
upper confidence bound (Clopper-Pearson, exact) at or below ``delta``. With little evidence no
cut qualifies and nothing is accepted: the bound tightens only as verified outcomes accumulate
(vCache's idea, per band of scores rather than per entry). With 0 wrong outcomes, a 1% bound at
95% confidence needs 299 right ones above the cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
    return min(1.0, total)


def upper_bound(wrong: int, n: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson upper bound on a rate seen as ``wrong`` of ``n``."""
    if not 0 <= wrong <= n:
        raise ValueError(f"wrong must be within 0..n, got {wrong} of {n}")
    if n == 0 or wrong == n:
        return 1.0
    lo, hi = wrong / n, 1.0
    for _ in range(60):  # the p at which P(X <= wrong) falls to 1 - confidence
        mid = (lo + hi) / 2
        if _binom_cdf(wrong, n, mid) > 1.0 - confidence:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class Acceptance:
    """A learned cut (None: no cut meets the bound) and its evidence."""

    cut: float | None
    upper: float  # the bound at the cut (or the best any cut reached)
    accepted: int  # outcomes above the cut
    wrong: int  # wrong ones among them
    outcomes: int
    delta: float
    confidence: float

    def accepts(self, score: float) -> bool:
        return self.cut is not None and score > self.cut

    def explain(self) -> str:
        if self.cut is None:
            return (
                f"no cut certified: the best reached {self.upper:.2%} (wanted <= {self.delta:.2%} "
                f"at {self.confidence:.0%} confidence; {self.accepted} accepted, {self.wrong} "
                f"wrong, of {self.outcomes} outcomes)"
            )
        return (
            f"score > {self.cut:.4f}: {self.wrong} wrong of {self.accepted} accepted, upper bound "
            f"{self.upper:.2%} <= {self.delta:.2%} at {self.confidence:.0%} confidence "
            f"({self.outcomes} outcomes)"
        )


def learn_cut(
    outcomes: Iterable[tuple[float, bool]], *, delta: float = 0.01, confidence: float = 0.95
) -> Acceptance:
    """The lowest cut whose accepted outcomes (score strictly above it) bound the wrong share
    at ``delta``; ``outcomes``: (score, right)."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be within (0, 1), got {delta}")
    ranked = sorted(outcomes, key=lambda o: o[0], reverse=True)
    best = Acceptance(None, 1.0, 0, 0, len(ranked), delta, confidence)
    wrong = 0
    chosen: Acceptance | None = None
    for i, (score, right) in enumerate(ranked):
        wrong += not right
        accepted = i + 1
        if i + 1 < len(ranked) and ranked[i + 1][0] == score:
            continue  # a cut falls between distinct scores only
        cut = ranked[i + 1][0] if i + 1 < len(ranked) else float("-inf")
        ub = upper_bound(wrong, accepted, confidence)
        if ub < best.upper:
            best = Acceptance(None, ub, accepted, wrong, len(ranked), delta, confidence)
        if ub <= delta:
            chosen = Acceptance(cut, ub, accepted, wrong, len(ranked), delta, confidence)
    return chosen if chosen is not None else best
