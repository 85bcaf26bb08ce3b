"""Automatic canary rollback: a canary that does worse than the baseline loses its traffic.

Requests forced into an arm by the override header are not recorded (``Experiments.finished``):
the figures are those of the arm's assigned users.

:class:`CanaryGuard` keeps, per variant, a rolling window of the latest requests (error flag,
latency). Once both the canary and the baseline have ``min_samples`` requests in their windows,
the canary is rolled back when (judged on every ``check_every``-th request of a variant, so the
percentile cost is amortised)

- its error rate exceeds the baseline's by more than ``error_margin`` (absolute), or
- its p95 latency exceeds the baseline's p95 by more than ``latency_margin`` (relative).

Rolling back sets the canary's weight to 0 in the :class:`VariantRouter` (its users go to the
other arms, and ``X-Tandem-Variant`` no longer reaches it), logs a warning and counts
``tandem_canary_rollbacks_total{variant,reason}``. It fires once per variant; restoring traffic
is a deliberate act (:meth:`CanaryGuard.reset`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from online.experiments.assignment import VariantRouter
from online.experiments.variants import VariantError

logger = logging.getLogger(__name__)

CANARY_ROLLBACKS = Counter(
    "tandem_canary_rollbacks_total",
    "Canary variants whose weight was set to 0 by the automatic rollback rule.",
    ["variant", "reason"],
)

RollbackReason = Literal["error_rate", "p95_latency"]


class CanaryPolicy(BaseModel):
    """When a canary is rolled back (settings: ``TANDEM_CANARY__<FIELD>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Off: record figures, never roll back.")
    canaries: tuple[str, ...] = Field(
        default=(), description="Variants watched; empty means every non-baseline variant."
    )
    error_margin: float = Field(
        default=0.02, ge=0, le=1, description="Allowed error-rate excess (absolute, 0.02 = 2 pts)."
    )
    latency_margin: float = Field(
        default=0.25, ge=0, description="Allowed p95 excess, relative (0.25 = 25% slower)."
    )
    min_samples: int = Field(default=200, ge=1, description="Requests each side needs first.")
    window: int = Field(default=2000, ge=1, description="Latest requests kept per variant.")
    check_every: int = Field(
        default=20, ge=1, description="Judge on every N-th request of a variant (cost amortised)."
    )

    @model_validator(mode="after")
    def _window_holds_sample(self) -> CanaryPolicy:
        if self.window < self.min_samples:
            raise ValueError("canary window must be at least min_samples")
        return self


@dataclass(frozen=True)
class RollbackEvent:
    variant: str
    baseline: str
    reason: RollbackReason
    canary_value: float
    baseline_value: float
    canary_samples: int
    baseline_samples: int


@dataclass(frozen=True)
class WindowStats:
    samples: int
    error_rate: float
    p95_ms: float


class _Window:
    def __init__(self, size: int) -> None:
        self.latency: deque[float] = deque(maxlen=size)
        self.errors: deque[bool] = deque(maxlen=size)
        self.error_count = 0
        self.seen = 0  # requests ever recorded (the window keeps the latest ones)

    def add(self, latency_ms: float, error: bool) -> None:
        self.seen += 1
        if len(self.errors) == self.errors.maxlen and self.errors[0]:
            self.error_count -= 1
        self.latency.append(latency_ms)
        self.errors.append(error)
        self.error_count += int(error)

    def stats(self) -> WindowStats:
        n = len(self.errors)
        if n == 0:
            return WindowStats(0, 0.0, 0.0)
        p95 = float(np.percentile(np.fromiter(self.latency, dtype=np.float64, count=n), 95))
        return WindowStats(n, self.error_count / n, p95)


class CanaryGuard:
    """Watches canaries against the baseline and rolls a bad one back (thread-safe)."""

    def __init__(
        self,
        router: VariantRouter,
        policy: CanaryPolicy | None = None,
        *,
        counter: Counter | None = None,
    ) -> None:
        self.router = router
        self.policy = policy or CanaryPolicy()
        self._counter = counter if counter is not None else CANARY_ROLLBACKS
        self._baseline = router.baseline.name
        declared = {v.name for v in router.variants}
        unknown = [c for c in self.policy.canaries if c not in declared]
        if unknown:
            raise VariantError(f"canary policy names unknown variants: {', '.join(unknown)}")
        if self._baseline in self.policy.canaries:
            raise VariantError(f"the baseline {self._baseline!r} cannot be a canary")
        self._watched = frozenset(self.policy.canaries) or declared - {self._baseline}
        self._windows = {name: _Window(self.policy.window) for name in declared}
        self._rolled_back: set[str] = set()
        self._lock = threading.Lock()

    @property
    def rolled_back(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._rolled_back)

    def stats(self, variant: str) -> WindowStats:
        with self._lock:
            return self._windows[variant].stats()

    def record(self, variant: str, *, latency_ms: float, error: bool) -> RollbackEvent | None:
        """Count one finished request; returns the rollback it triggered, if any."""
        window = self._windows.get(variant)
        if window is None:  # a variant not declared (old log, renamed arm): nothing to judge
            return None
        with self._lock:
            window.add(latency_ms, error)
            if window.seen % self.policy.check_every:
                return None
            if variant == self._baseline:
                candidates = [c for c in self._watched if c not in self._rolled_back]
            elif variant in self._watched and variant not in self._rolled_back:
                candidates = [variant]
            else:
                return None
            for name in sorted(candidates):
                event = self._judge(name)
                if event is not None:
                    self._rolled_back.add(name)
                    break
            else:
                return None
        if self.policy.enabled:
            self.router.set_weight(event.variant, 0.0)
        self._counter.labels(variant=event.variant, reason=event.reason).inc()
        logger.warning(
            "canary %s rolled back (%s): %.4f against baseline %s %.4f over %s/%s requests%s",
            event.variant,
            event.reason,
            event.canary_value,
            event.baseline,
            event.baseline_value,
            event.canary_samples,
            event.baseline_samples,
            "" if self.policy.enabled else " [dry run: policy disabled, weight kept]",
        )
        return event

    def adopt(self, variant: str) -> bool:
        """Another replica rolled ``variant`` back: it is rolled back here too (weight 0, no
        judging, not counted again). Returns whether it was news to this replica."""
        with self._lock:
            if variant in self._rolled_back or variant not in self._windows:
                return False
            self._rolled_back.add(variant)
        self.router.set_weight(variant, 0.0)
        logger.warning("canary %s rolled back by another replica", variant)
        return True

    def reset(self, variant: str, weight: float) -> None:
        """Give a rolled-back canary traffic again, with fresh windows."""
        self.router.set_weight(variant, weight)
        with self._lock:
            self._rolled_back.discard(variant)
            self._windows[variant] = _Window(self.policy.window)

    def _judge(self, canary: str) -> RollbackEvent | None:
        c = self._windows[canary].stats()
        b = self._windows[self._baseline].stats()
        if c.samples < self.policy.min_samples or b.samples < self.policy.min_samples:
            return None
        if c.error_rate > b.error_rate + self.policy.error_margin:
            return RollbackEvent(
                canary,
                self._baseline,
                "error_rate",
                c.error_rate,
                b.error_rate,
                c.samples,
                b.samples,
            )
        if c.p95_ms > b.p95_ms * (1.0 + self.policy.latency_margin):
            return RollbackEvent(
                canary, self._baseline, "p95_latency", c.p95_ms, b.p95_ms, c.samples, b.samples
            )
        return None
