"""The service's answer cache (``core.cache.port.AnswerCache``) on asyncio Redis.

Every Redis failure surfaces as :class:`CacheUnavailableError`; the pipeline turns it into a live
answer with ``cache: "unavailable"``. redis-py reconnects by itself on the next command. A lookup
that gets no answer within ``lookup_timeout_s`` (Redis slow or busy, not refusing) is
:class:`CacheSlowError`, which the pipeline refuses with 503 instead of generating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from core.cache.bounded import (
    DEFAULT_CAPACITY,
    purge_patterns,
    queue_put,
    queue_touch,
    version_purge_patterns,
)
from core.cache.codec import CacheScope, decode_entry, decode_vector
from core.cache.port import CandidateVerifier, SemanticHit, candidate_accepted
from core.cache.semantic import SemanticMirror
from core.errors import CacheSlowError, CacheUnavailableError
from core.redis_clients import REDIS_FAILURES, REDIS_OP_TIMEOUT_S, deadline
from shared_schemas.cache import CacheEntry

log = logging.getLogger(__name__)

_MAX_MIRRORS = 4
#: decoded entries kept by their bytes (TANDEM_HIT_MEMO_ENTRIES sets the service's)
DEFAULT_MEMO_ENTRIES = 4096
_LOG_BATCH = 1000  # change-log entries replayed per round trip
_LOG_ROUNDS = 8  # round trips of replay per lookup, at most (the rest waits for the next one)
_TOUCH_BATCH = 256  # recorded uses sent at once
_TOUCH_EVERY_S = 1.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisAnswerCache:
    """The :class:`~core.cache.port.AnswerCache` on asyncio Redis.

    Writes go through the bounded store's script (``core.cache.bounded``: ``capacity`` answers
    per scope, LRU eviction, vectors expiring with their answers). Each scope's vectors are
    mirrored in process (:class:`SemanticMirror`) and kept in step by replaying the scope's
    change log from where the mirror left off: one round trip per semantic lookup, reading only
    what changed. The whole hash is read only on a mirror's first use, after the scope was
    recreated (new epoch), or when the mirror fell behind the log's bounded length. Reads that
    found an answer are recorded as uses in batches (with the next write, or every second).
    """

    def __init__(
        self,
        redis: Any,
        *,
        capacity: int = DEFAULT_CAPACITY,
        lookup_timeout_s: float = REDIS_OP_TIMEOUT_S,
        memo_entries: int = DEFAULT_MEMO_ENTRIES,
    ) -> None:
        self.redis = redis
        self.capacity = capacity
        self.memo_entries = memo_entries
        self.lookup_timeout_s = lookup_timeout_s
        self._mirrors: OrderedDict[str, SemanticMirror] = OrderedDict()
        # raw JSON -> entry: a hot answer read again is not parsed again (content-addressed)
        self._decoded: dict[bytes, CacheEntry] = {}
        self._touched: dict[CacheScope, set[str]] = {}
        self._touched_n = 0
        self._touched_at = time.monotonic()
        self.full_loads = 0  #: whole-hash reads of a scope (first use, new epoch, fell behind)
        self.evicted = 0  #: answers this process's writes evicted for capacity

    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        key = scope.key(question_hash)
        try:
            async with deadline(self.lookup_timeout_s):
                raw = await self.redis.get(key)
        except TimeoutError as exc:
            raise CacheSlowError(f"redis get gave nothing in {self.lookup_timeout_s}s") from exc
        except REDIS_FAILURES as exc:
            raise CacheUnavailableError(f"redis get failed: {exc}") from exc
        if raw is None:
            return None
        entry = self._decoded.get(raw)
        if entry is None:
            entry = decode_entry(raw, key=key)
            if entry is not None:
                if len(self._decoded) >= self.memo_entries:
                    self._decoded.clear()
                self._decoded[raw] = entry
        if entry is not None:
            await self._used(scope, question_hash)
        return entry

    async def get_semantic(
        self,
        scope: CacheScope,
        question: str,
        vector: np.ndarray,
        *,
        threshold: float,
        verifier: CandidateVerifier | None = None,
    ) -> SemanticHit | None:
        """The nearest cached question above ``threshold`` that ``verifier`` accepts (None: that
        agrees on the question signature)."""
        try:
            async with deadline(self.lookup_timeout_s):
                hit = await self._semantic(scope, question, vector, threshold, verifier)
        except TimeoutError as exc:
            raise CacheSlowError(f"semantic lookup took over {self.lookup_timeout_s}s") from exc
        except REDIS_FAILURES as exc:
            raise CacheUnavailableError(f"redis semantic lookup failed: {exc}") from exc
        if hit is not None:
            await self._used(scope, hit.entry.normalized_key)
        return hit

    async def nearest(
        self, scope: CacheScope, vector: np.ndarray, *, floor: float
    ) -> tuple[str, float] | None:
        """The cached question nearest ``vector`` at or above ``floor`` (hash, cosine), from
        the replica's mirror of the scope (no entry read): what a borderline miss is judged
        against. None when there is none or Redis fails (a judgment is optional)."""
        try:
            async with deadline(self.lookup_timeout_s):
                mirror = await self._mirror(scope, int(vector.size))
        except REDIS_FAILURES:
            return None
        found = mirror.nearest(vector, threshold=floor, limit=1)
        return found[0] if found else None

    async def _semantic(
        self,
        scope: CacheScope,
        question: str,
        vector: np.ndarray,
        threshold: float,
        verifier: CandidateVerifier | None,
    ) -> SemanticHit | None:
        mirror = await self._mirror(scope, int(vector.size))
        candidates = mirror.nearest(vector, threshold=threshold)
        if not candidates:
            return None
        keys = [scope.key(qhash) for qhash, _ in candidates]
        raws = await self.redis.mget(keys)  # every candidate in one round trip
        for (qhash, sim), key, raw in zip(candidates, keys, raws, strict=True):
            if raw is None:  # expired: the next write's sweep drops the vector and logs it
                mirror.remove(qhash)
                continue
            entry = decode_entry(raw, key=key)
            if entry is None:
                continue
            if candidate_accepted(verifier, question, entry.question, sim):
                return SemanticHit(entry, sim)
            log.debug("semantic candidate rejected sim=%.3f", sim)
        return None

    async def _mirror(self, scope: CacheScope, dimension: int) -> SemanticMirror:
        skey = scope.semantic_key()
        mirror = self._mirrors.get(skey)
        if mirror is None or mirror.dimension != dimension:
            mirror = SemanticMirror(dimension, capacity=self.capacity)
            self._mirrors[skey] = mirror
            while len(self._mirrors) > _MAX_MIRRORS:
                self._mirrors.popitem(last=False)
        self._mirrors.move_to_end(skey)
        async with mirror.lock:
            await self._catch_up(scope, mirror)
        return mirror

    async def _catch_up(self, scope: CacheScope, mirror: SemanticMirror) -> None:
        """Replay the scope's change log past ``mirror.last_id`` (reload on a gap or new epoch)."""
        keys = scope.keys
        for _ in range(_LOG_ROUNDS):
            if mirror.loading is not None and not mirror.loading.done():
                await asyncio.shield(mirror.loading)  # a lookup's deadline never cancels it
            pipe = self.redis.pipeline(transaction=False)
            pipe.hget(keys.meta, "epoch")
            pipe.xrange(keys.log, min=f"({mirror.last_id}", max="+", count=_LOG_BATCH)
            epoch, entries = await pipe.execute()
            if epoch is None:  # nothing stored in this scope (never, expired or purged)
                mirror.clear()
                mirror.epoch, mirror.seq, mirror.last_id = None, 0, "0-0"
                return
            gap = bool(entries) and int(entries[0][1][b"n"]) != mirror.seq + 1
            if _text(epoch) != mirror.epoch or gap:
                # a whole read outlives the lookup that started it (its deadline may be shorter
                # than the read); lookups meanwhile wait for it within their own deadlines
                mirror.loading = asyncio.create_task(self._reload(scope, mirror))
                await asyncio.shield(mirror.loading)
                continue
            if entries:
                await self._apply(scope, mirror, entries)
            if len(entries) < _LOG_BATCH:
                return

    async def _reload(self, scope: CacheScope, mirror: SemanticMirror) -> None:
        """Read the whole hash (HSCAN), positioned at the log's tip taken first."""
        keys = scope.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.hget(keys.meta, "epoch")
        pipe.xrevrange(keys.log, max="+", min="-", count=1)
        epoch, tip = await pipe.execute()
        mirror.clear()
        mirror.epoch = _text(epoch) if epoch is not None else None
        mirror.seq, mirror.last_id = 0, "0-0"
        if tip:
            mirror.last_id = _text(tip[0][0])
            mirror.seq = int(tip[0][1][b"n"])
        vectors: dict[str, np.ndarray] = {}
        async for name, raw in self.redis.hscan_iter(keys.vectors, count=1000):
            vec = decode_vector(raw, mirror.dimension)
            if vec is not None:
                vectors[_text(name)] = vec
        mirror.replace(vectors)  # inverted lists, if any, trained once on the whole read
        self.full_loads += 1
        log.info("semantic mirror loaded whole: %s rows=%d", keys.vectors, len(mirror))

    async def _apply(
        self, scope: CacheScope, mirror: SemanticMirror, entries: list[tuple[Any, Any]]
    ) -> None:
        added: dict[str, None] = {}
        for _, fields in entries:
            qhash = _text(fields[b"h"])
            if fields[b"op"] == b"a":
                added[qhash] = None
            else:
                added.pop(qhash, None)
                mirror.remove(qhash)
        if added:
            names = list(added)
            raws = await self.redis.hmget(scope.keys.vectors, names)
            for name, raw in zip(names, raws, strict=True):
                vec = decode_vector(raw, mirror.dimension) if raw is not None else None
                if vec is None:
                    mirror.remove(name)
                else:
                    mirror.add(name, vec)
        mirror.last_id = _text(entries[-1][0])
        mirror.seq = int(entries[-1][1][b"n"])

    async def _used(self, scope: CacheScope, question_hash: str) -> None:
        """Record a read for eviction order; sent in batches (a failure here is only logged)."""
        self._touched.setdefault(scope, set()).add(question_hash)
        self._touched_n += 1
        due = time.monotonic() - self._touched_at >= _TOUCH_EVERY_S
        if self._touched_n < _TOUCH_BATCH and not due:
            return
        pipe = self.redis.pipeline(transaction=False)
        self._queue_touches(pipe)
        try:
            async with deadline(self.lookup_timeout_s):
                await pipe.execute()
        except REDIS_FAILURES as exc:
            log.debug("cache uses not recorded: %s", exc)

    def _queue_touches(self, pipe: Any) -> None:
        for scope, hashes in self._touched.items():
            queue_touch(pipe, scope, sorted(hashes))
        self._touched.clear()
        self._touched_n = 0
        self._touched_at = time.monotonic()

    async def put(
        self, entry: CacheEntry, question_vector: np.ndarray | None, *, ttl_s: int | None
    ) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            self._queue_touches(pipe)
            queue_put(pipe, entry, question_vector, ttl_s, capacity=self.capacity)
            async with deadline(self.lookup_timeout_s):
                results = await pipe.execute()
        except REDIS_FAILURES as exc:
            raise CacheUnavailableError(f"redis cache write failed: {exc}") from exc
        self.evicted += int(results[-1][0])
        if question_vector is not None:
            mirror = self._mirrors.get(CacheScope.of(entry).semantic_key())
            if mirror is not None and mirror.dimension == question_vector.size:
                mirror.add(entry.normalized_key, np.asarray(question_vector, dtype=np.float32))

    async def purge(self, scope: CacheScope | None = None) -> int:
        return await self._purge(purge_patterns(scope))

    async def purge_version(self, index_version: str) -> int:
        return await self._purge(version_purge_patterns(index_version))

    async def _purge(self, patterns: list[str]) -> int:
        removed = 0
        try:
            async with deadline(30.0):
                removed = await self._delete_matching(patterns)
        except REDIS_FAILURES as exc:
            raise CacheUnavailableError(f"redis purge failed: {exc}") from exc
        self._mirrors.clear()
        self._decoded.clear()
        return removed

    async def _delete_matching(self, patterns: list[str]) -> int:
        removed = 0
        for pattern in patterns:
            keys = [k async for k in self.redis.scan_iter(match=pattern, count=500)]
            for i in range(0, len(keys), 500):
                removed += int(await self.redis.delete(*keys[i : i + 500]))
        return removed
