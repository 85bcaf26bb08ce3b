"""The experiments one service runs: assignment, canary bookkeeping, query id → variant.

:class:`Experiments` assigns requests (:class:`VariantRouter`: header override for holders of a
debug key or the admin token, sticky hash of the user id, else the query id), feeds every
finished answer that was not forced to the :class:`CanaryGuard` (which sets a failing canary's
weight to 0, logs and counts it) and remembers recent query ids' variants so feedback is
attributed without a lookup.
"""

from __future__ import annotations

from collections import OrderedDict

from online.experiments.assignment import Assignment, VariantRouter
from online.experiments.canary import CanaryGuard
from online.experiments.override import OverridePermission
from online.metrics import ServiceMetrics
from online.settings import OnlineSettings


class Experiments:
    """Assignment, canary bookkeeping and the query id → variant memory of one service."""

    def __init__(
        self,
        router: VariantRouter,
        guard: CanaryGuard | None,
        *,
        metrics: ServiceMetrics,
        override: OverridePermission | None = None,
        remember: int = 50_000,
    ) -> None:
        self.router = router
        self.guard = guard
        self.metrics = metrics
        self.override = override or OverridePermission(())
        #: one arm only: every request is that arm, nothing to judge or remember (hot path)
        self.single: str | None = router.variants[0].name if len(router.variants) == 1 else None
        self._single = Assignment(router.variants[0], "single")
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._remember = remember
        self.publish_weights()

    def assign(
        self,
        *,
        user_id: str | None,
        header: str | None,
        query_id: str,
        debug_key: str | bytes | None = None,
    ) -> Assignment:
        """The variant of one request; ``header`` forces one only with a valid ``debug_key``."""
        if self.single is not None:
            return self._single
        allowed = header is not None and self.override.allows(debug_key)
        return self.router.assign(
            user_id=user_id, header=header, query_id=query_id, allow_override=allowed
        )

    def finished(
        self, query_id: str, variant: str, *, latency_ms: float, error: bool, forced: bool = False
    ) -> None:
        """One answered request: remembered for feedback, judged by the canary guard unless it
        was ``forced`` into its variant by the header (QA traffic is not the arm's users)."""
        if self.single is not None:
            return
        recent = self._recent
        recent[query_id] = variant
        if len(recent) > self._remember:
            recent.popitem(last=False)
        if self.guard is None or forced:
            return
        event = self.guard.record(variant, latency_ms=latency_ms, error=error)
        if event is not None:  # the guard set the weight (policy enabled), logged and counted it
            self.publish_weights()

    def variant_of(self, query_id: str) -> str | None:
        if self.single is not None:
            return self.single
        return self._recent.get(query_id)

    def publish_weights(self) -> None:
        for name, weight in self.router.weights().items():
            self.metrics.variant_weight.labels(variant=name).set(weight)


def build_experiments(settings: OnlineSettings, metrics: ServiceMetrics) -> Experiments:
    router = VariantRouter(settings.variants, salt=settings.experiment_salt)
    guard = None
    if len(router.variants) > 1:
        guard = CanaryGuard(router, settings.canary, counter=metrics.canary_rollbacks)
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    override = OverridePermission(settings.variant_override_keys, admin)
    return Experiments(router, guard, metrics=metrics, override=override)
