"""Experiment state every replica shares, in Redis: run-time weights, rollbacks and events.

One experiment (its salt and its arms' names, :func:`experiment_id`) owns two hashes:

- ``tandem:exp:<id>:rollbacks`` — variant → JSON of the :class:`RollbackEvent` that took its
  traffic (written once, ``HSETNX``: the first replica to judge it wins, the others adopt it);
- ``tandem:exp:<id>:weights`` — variant → weight set at run time (a rollback writes 0).

Every change is also appended to the stream ``tandem:exp:events`` (:class:`ExperimentEvent`).
Each replica's :class:`~online.experiments.service.Experiments` reads the hashes at start (so a
restart keeps a rollback) and every ``experiment_sync_s`` after (so a rollback on one replica is
in force on all within that time); a rollback judged here is in force here at once and written
as soon as Redis answers. A declaration with other arm names, or another salt, is another
experiment: it starts from the declared weights.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from online.experiments.canary import RollbackEvent
from online.experiments.variants import Variant

EXPERIMENT_PREFIX = "tandem:exp"
EXPERIMENT_EVENTS = f"{EXPERIMENT_PREFIX}:events"
EVENTS_MAXLEN = 10_000

EventKind = Literal["rollback", "restore", "weight"]


def experiment_id(variants: Sequence[Variant], salt: str) -> str:
    """Short id of an experiment: its salt and its arms' names (not their weights, so a ramp-up
    of the declared weights keeps the run-time state)."""
    names = "\x00".join(sorted(v.name for v in variants))
    return hashlib.sha256(f"{salt}\x00{names}".encode()).hexdigest()[:16]


class ExperimentEvent(BaseModel):
    """One change of the shared state, as appended to ``tandem:exp:events``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment: str
    kind: EventKind
    variant: str
    weight: float
    replica: str
    ts: float
    reason: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class SharedSnapshot:
    """What Redis holds for one experiment."""

    rollbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class SharedExperimentState:
    """Reads and writes one experiment's shared state with an asyncio Redis client."""

    def __init__(self, redis: Any, experiment: str, *, replica: str) -> None:
        self.redis = redis
        self.experiment = experiment
        self.replica = replica
        # one hash tag per experiment: its two hashes are read in one transaction
        self.rollbacks_key = f"{EXPERIMENT_PREFIX}:{{{experiment}}}:rollbacks"
        self.weights_key = f"{EXPERIMENT_PREFIX}:{{{experiment}}}:weights"

    async def read(self) -> SharedSnapshot:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.rollbacks_key)
            pipe.hgetall(self.weights_key)
            rollbacks, weights = await pipe.execute()
        return SharedSnapshot(
            rollbacks={_text(k): json.loads(v) for k, v in rollbacks.items()},
            weights={_text(k): float(v) for k, v in weights.items()},
        )

    async def record_rollback(self, event: RollbackEvent) -> bool:
        """Write a rollback judged here; False when another replica's came first (kept)."""
        detail = {**asdict(event), "replica": self.replica, "ts": time.time()}
        won = await self.redis.hsetnx(self.rollbacks_key, event.variant, json.dumps(detail))
        if not won:
            return False
        await self._change(event.variant, 0.0, "rollback", reason=event.reason, detail=detail)
        return True

    async def restore(self, variant: str, weight: float) -> None:
        """Give a rolled-back arm traffic again (a deliberate act): every replica follows."""
        await self.redis.hdel(self.rollbacks_key, variant)
        await self._change(variant, weight, "restore")

    async def set_weight(self, variant: str, weight: float) -> None:
        """Put ``weight`` in force for ``variant`` on every replica (0 turns the arm off)."""
        await self._change(variant, weight, "weight")

    async def _change(
        self,
        variant: str,
        weight: float,
        kind: EventKind,
        *,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        event = ExperimentEvent(
            experiment=self.experiment,
            kind=kind,
            variant=variant,
            weight=weight,
            replica=self.replica,
            ts=time.time(),
            reason=reason,
            detail=detail,
        )
        # the weight, then its record on the experiments' event stream: one round trip, not
        # one transaction (the stream is shared by every experiment, so in another hash slot)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.weights_key, variant, repr(float(weight)))
            pipe.xadd(
                EXPERIMENT_EVENTS,
                {"event": event.model_dump_json()},
                maxlen=EVENTS_MAXLEN,
                approximate=True,
            )
            await pipe.execute()


def read_events(client: Any, *, count: int = 100) -> list[ExperimentEvent]:
    """The latest experiment events, oldest first (a synchronous client: the CLI's)."""
    entries = client.xrevrange(EXPERIMENT_EVENTS, count=count)
    out = []
    for _, fields in reversed(entries):
        raw = fields.get(b"event", fields.get("event"))
        if raw is not None:
            out.append(ExperimentEvent.model_validate_json(raw))
    return out
