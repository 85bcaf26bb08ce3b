"""Each replica says, in Redis and in its metrics, which index version it serves.

Every ``heartbeat_s`` a replica writes ``tandem:replica:<id>`` (JSON :class:`ReplicaRecord`) with
a TTL of ``heartbeat_ttl_s``: a replica that stops beating (killed, partitioned) drops out of
the list by itself; one that stops cleanly deletes its key. The same figures are metrics:
``tandem_replica_info{replica,version}`` (1) and ``tandem_replica_heartbeat_timestamp_seconds``.
``tandem status`` lists the records (:func:`read_replicas`) with their ages.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from pydantic import BaseModel, ConfigDict

from core.redis_clients import deadline
from online.index_state import IndexHolder

REPLICA_PREFIX = "tandem:replica:"


def default_replica_id() -> str:
    """``<host>-<pid>``: the pod name in Kubernetes, unique per process on one machine."""
    return f"{socket.gethostname()}-{os.getpid()}"


class ReplicaRecord(BaseModel):
    """What one replica last said about itself."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    replica: str
    version: str | None
    pinned: str | None = None
    last_error: str | None = None
    weights: dict[str, float] = {}
    #: answers this replica served since it started, by ``<cache>/<tier>`` (``exact/deep``: a
    #: hit on an answer the deep tier produced; ``miss/fast``: generated here, live)
    answers: dict[str, int] = {}
    host: str
    pid: int
    started_at: float
    ts: float

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.ts)


class ReplicaHeartbeat:
    """Writes this replica's record to Redis and its figures to the metrics."""

    def __init__(
        self,
        redis: Any,
        *,
        replica: str,
        indexes: IndexHolder,
        weights: Callable[[], Mapping[str, float]],
        registry: CollectorRegistry,
        ttl_s: float,
        answers: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.redis = redis
        self.answers = answers
        self.replica = replica
        self.key = REPLICA_PREFIX + replica
        self.indexes = indexes
        self.weights = weights
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.started_at = time.time()
        self.info = Gauge(
            "tandem_replica_info",
            "The index version this replica serves (value 1)",
            ["replica", "version"],
            registry=registry,
        )
        self.beat_ts = Gauge(
            "tandem_replica_heartbeat_timestamp_seconds",
            "When this replica last wrote its heartbeat to Redis",
            registry=registry,
        )

    def record(self) -> ReplicaRecord:
        current = self.indexes.current
        return ReplicaRecord(
            replica=self.replica,
            version=current.version if current else None,
            pinned=self.indexes.pinned,
            last_error=self.indexes.last_error,
            weights=dict(self.weights()),
            answers=dict(self.answers()),
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            ts=time.time(),
        )

    async def beat(self) -> ReplicaRecord:
        record = self.record()
        self.info.clear()
        self.info.labels(replica=self.replica, version=record.version or "none").set(1)
        async with deadline():
            await self.redis.set(self.key, record.model_dump_json(), px=self.ttl_ms)
        self.beat_ts.set(record.ts)
        return record

    async def leave(self) -> None:
        """A clean stop: this replica leaves the list at once."""
        async with deadline():
            await self.redis.delete(self.key)


def read_replicas(client: Any) -> list[ReplicaRecord]:
    """Every replica whose heartbeat has not expired (a synchronous client), by id."""
    keys = sorted(client.scan_iter(match=REPLICA_PREFIX + "*", count=500))
    if not keys:
        return []
    out = []
    for raw in client.mget(keys):
        if raw is not None:  # expired between SCAN and MGET
            out.append(ReplicaRecord.model_validate_json(raw))
    return sorted(out, key=lambda r: r.replica)
