"""The experiments one service runs: assignment, canary bookkeeping, query id → variant.

:class:`Experiments` assigns requests (:class:`VariantRouter`: header override for holders of a
debug key or the admin token, sticky hash of the user id, else the query id), feeds every
finished answer that was not forced to the :class:`CanaryGuard` (which sets a failing canary's
weight to 0, logs and counts it) and remembers recent query ids' variants so feedback is
attributed without a lookup.

With a :class:`~online.experiments.shared.SharedExperimentState` (every real service has one)
the weights and rollbacks are those every replica shares in Redis: :meth:`Experiments.sync` writes
the rollbacks judged here and puts the shared state in force (at start, then periodically).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque

from redis.exceptions import RedisError

from core.redis_clients import deadline
from online.experiments.assignment import Assignment, VariantRouter
from online.experiments.canary import CanaryGuard, RollbackEvent
from online.experiments.override import OverridePermission
from online.experiments.shared import SharedExperimentState, experiment_id
from online.metrics import ServiceMetrics
from online.settings import OnlineSettings

log = logging.getLogger(__name__)
#: one sync (write the rollbacks judged here, read the shared state) takes at most this long
SYNC_TIMEOUT_S = 2.0


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
        shared: SharedExperimentState | None = None,
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
        self.shared = shared if self.single is None else None
        self._declared = {v.name: v.weight for v in router.variants}
        self._unwritten: deque[RollbackEvent] = deque()  # judged here, not yet in Redis
        self._tasks: set[asyncio.Task[None]] = set()
        self._sync_lock = asyncio.Lock()
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
            if self.shared is not None and self.guard.policy.enabled:
                self._unwritten.append(event)
                self._sync_soon()

    def _sync_soon(self) -> None:
        """Write a rollback at once when called on the event loop (else: at the next sync)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._sync_quietly(), name="experiments-sync")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync_quietly(self) -> None:
        try:
            await self.sync()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rollback not yet shared (Redis: %s); retried every sync", exc)

    async def sync(self) -> bool:
        """Write the rollbacks judged here, then put the shared state in force: weights set at
        run time, rollbacks by any replica (adopted), arms restored (reset). Raises the Redis
        error when Redis does not answer (the local state stays as it is). Returns whether the
        weights in force changed."""
        if self.shared is None:
            return False
        async with self._sync_lock, deadline(SYNC_TIMEOUT_S):
            return await self._sync(self.shared)

    async def _sync(self, shared: SharedExperimentState) -> bool:
        before = dict(self.router.weights())
        while self._unwritten:
            await shared.record_rollback(self._unwritten[0])
            self._unwritten.popleft()
        snapshot = await shared.read()
        weights = {**self._declared, **snapshot.weights}
        weights.update({name: 0.0 for name in snapshot.rollbacks})
        weights = {n: w for n, w in weights.items() if n in self._declared}
        if self.guard is not None:
            for name in sorted(self.guard.rolled_back - set(snapshot.rollbacks)):
                log.warning("canary %s restored by an operator (weight %s)", name, weights[name])
                self.guard.reset(name, weights[name])
            for name in sorted(set(snapshot.rollbacks) & set(self._declared)):
                self.guard.adopt(name)
        self.router.apply_weights(weights)
        changed = dict(self.router.weights()) != before
        if changed:
            self.publish_weights()
        return changed

    def variant_of(self, query_id: str) -> str | None:
        if self.single is not None:
            return self.single
        return self._recent.get(query_id)

    def publish_weights(self) -> None:
        for name, weight in self.router.weights().items():
            self.metrics.variant_weight.labels(variant=name).set(weight)


def build_experiments(
    settings: OnlineSettings, metrics: ServiceMetrics, *, redis: object | None, replica: str
) -> Experiments:
    router = VariantRouter(settings.variants, salt=settings.assignment_salt)
    shared = None
    if redis is not None:
        shared = SharedExperimentState(
            redis, experiment_id(router.variants, settings.assignment_salt), replica=replica
        )
    guard = None
    if len(router.variants) > 1:
        guard = CanaryGuard(router, settings.canary, counter=metrics.canary_rollbacks)
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    override = OverridePermission(settings.variant_override_keys, admin)
    return Experiments(router, guard, metrics=metrics, override=override, shared=shared)
