"""The limiter: one GCRA Lua script per decision, on the Redis every replica shares.

GCRA keeps one number per (bucket, client): the theoretical arrival time (TAT, ms, server
clock). A request is allowed when ``TAT - burst * interval <= now`` and moves the TAT on by one
interval; otherwise it is refused with the wait until it would be allowed (``Retry-After``).
Redis down or slow: the replica decides alone, with the same GCRA on its own clock and memory
(:class:`LocalGcra`, bounded): a client is held to its limit on each replica instead of being let
through unchecked (issue 26: a cluster shard failing over, issue 27: Redis down), at worst
``replicas x`` its limit across the service while Redis is away. Counted either way.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from typing import Any

from core.redis_clients import REDIS_FAILURES, deadline
from online.answers import AnswerRequest
from online.errors import RateLimitedError
from online.limits.config import ApiKey, Bucket, RateLimit, RateLimits, hash_key
from online.metrics import ServiceMetrics
from shared_schemas.layout import RATE_LIMIT_PREFIX

log = logging.getLogger(__name__)

GCRA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if allow_at > now then return {0, tostring(allow_at - now)} end
redis.call('SET', KEYS[1], string.format('%.3f', tat + interval), 'PX',
           math.ceil(tat + interval - now) + 1)
return {1, '0'}
"""


class LocalGcra:
    """The GCRA of :data:`GCRA` in process memory, for while Redis is unavailable; at most
    ``capacity`` clients remembered (the least recently seen forgotten first)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._tat: OrderedDict[str, float] = OrderedDict()

    def admit(self, key: str, interval_ms: float, burst: int) -> float:
        """0 when allowed (the TAT moves on), else the wait in ms."""
        now = time.monotonic() * 1000.0
        tat = max(self._tat.get(key, now), now)
        allow_at = tat + interval_ms - burst * interval_ms
        if allow_at > now:
            return allow_at - now
        self._tat[key] = tat + interval_ms
        self._tat.move_to_end(key)
        while len(self._tat) > self.capacity:
            self._tat.popitem(last=False)
        return 0.0


class RedisRateLimiter:
    """Admits or refuses a client's request in one bucket; resolves API keys."""

    def __init__(
        self,
        redis: Any,
        *,
        limits: RateLimits,
        api_keys: tuple[ApiKey, ...] = (),
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.redis = redis
        self.limits = limits
        self.metrics = metrics
        self._keys = {k.sha256: k for k in api_keys}
        self._local = LocalGcra()
        self._by_subject = {k.subject: k for k in api_keys}
        if metrics is not None:
            for bucket in ("requests", "generations", "refines"):
                limit = limits.of(bucket)  # type: ignore[arg-type]
                metrics.rate_limit.labels(bucket=bucket, figure="rate_per_s").set(limit.rate_per_s)
                metrics.rate_limit.labels(bucket=bucket, figure="burst").set(limit.burst)
            metrics.rate_limit.labels(bucket="all", figure="enabled").set(int(limits.enabled))
            metrics.rate_limit.labels(bucket="all", figure="api_keys").set(len(self._keys))

    def key_for(self, secret: str) -> ApiKey | None:
        """The configured key whose sha256 is that of ``secret``."""
        return self._keys.get(hash_key(secret))

    def limit_for(self, subject: str, bucket: Bucket) -> RateLimit:
        key = self._by_subject.get(subject)
        return key.limit(bucket, self.limits) if key else self.limits.of(bucket)

    async def admit(self, subject: str, bucket: Bucket) -> None:
        """Return when allowed; raise :class:`RateLimitedError` (with the wait) when not."""
        if not self.limits.enabled:
            return
        limit = self.limit_for(subject, bucket)
        interval_ms = 1000.0 / limit.rate_per_s
        key = f"{RATE_LIMIT_PREFIX}:{bucket}:{subject}"
        try:
            async with deadline():
                allowed, wait_ms = await self.redis.eval(GCRA, 1, key, interval_ms, limit.burst)
        except REDIS_FAILURES as exc:
            log.warning("rate limiter's Redis unavailable, deciding on this replica: %s", exc)
            if self.metrics is not None:
                self.metrics.rate_limit_errors.inc()
            wait_ms = self._local.admit(key, interval_ms, limit.burst)
            allowed = 1 if wait_ms <= 0 else 0
        kind = "key" if subject.startswith("key:") else "address"
        if int(allowed):
            if self.metrics is not None:
                self.metrics.rate_limit_decisions.labels(bucket, kind, "allowed").inc()
            return
        if self.metrics is not None:
            self.metrics.rate_limit_decisions.labels(bucket, kind, "limited").inc()
        retry = max(1, math.ceil(float(wait_ms) / 1000.0))
        raise RateLimitedError(bucket, retry_after_s=retry)

    async def admit_generation(self, request: AnswerRequest) -> None:
        """The pipeline's :class:`~online.answering.context.GenerationAdmission` (live misses
        only)."""
        if request.client is not None:
            await self.admit(request.client, "generations")
