"""The service's cache: asyncio Redis, exact and semantic lookups, write-through, purge.

Every Redis failure surfaces as :class:`CacheUnavailableError`; the pipeline turns it into a live
answer with ``cache: "unavailable"``. redis-py reconnects by itself on the next command.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from core.cache.codec import CacheScope, decode_entry, decode_vector
from core.cache.redis_store import purge_patterns, queue_put
from online.cache.port import SemanticHit
from online.cache.semantic import SemanticMirror
from online.errors import CacheUnavailableError
from online.redis_conn import REDIS_OP_TIMEOUT_S, deadline
from online.signature import question_signature
from shared_schemas.cache import CacheEntry

log = logging.getLogger(__name__)

_MAX_MIRRORS = 4
_MAX_DECODED = 4096


class AsyncRedisAnswerCache:
    """The :class:`~online.cache.port.AnswerCache` on asyncio Redis."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._mirrors: OrderedDict[str, SemanticMirror] = OrderedDict()
        # raw JSON -> entry: a hot answer read again is not parsed again (content-addressed)
        self._decoded: dict[bytes, CacheEntry] = {}

    async def get_exact(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        key = scope.key(question_hash)
        try:
            async with deadline():
                raw = await self.redis.get(key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheUnavailableError(f"redis get failed: {exc}") from exc
        if raw is None:
            return None
        entry = self._decoded.get(raw)
        if entry is None:
            entry = decode_entry(raw, key=key)
            if entry is not None:
                if len(self._decoded) >= _MAX_DECODED:
                    self._decoded.clear()
                self._decoded[raw] = entry
        return entry

    async def get_semantic(
        self,
        scope: CacheScope,
        question: str,
        vector: np.ndarray,
        *,
        threshold: float,
    ) -> SemanticHit | None:
        """The nearest cached question above ``threshold`` that agrees on numbers and names."""
        try:
            async with deadline(2 * REDIS_OP_TIMEOUT_S):
                return await self._semantic(scope, question, vector, threshold)
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheUnavailableError(f"redis semantic lookup failed: {exc}") from exc

    async def _semantic(
        self, scope: CacheScope, question: str, vector: np.ndarray, threshold: float
    ) -> SemanticHit | None:
        mirror = await self._mirror(scope, int(vector.size))
        candidates = mirror.nearest(vector, threshold=threshold)
        if not candidates:
            return None
        wanted = question_signature(question)
        for qhash, sim in candidates:
            key = scope.key(qhash)
            raw = await self.redis.get(key)
            if raw is None:  # expired entry: forget its vector
                mirror.remove(qhash)
                await self.redis.hdel(scope.semantic_key(), qhash)
                continue
            entry = decode_entry(raw, key=key)
            if entry is None:
                continue
            if question_signature(entry.question).agrees_with(wanted):
                return SemanticHit(entry, sim)
            log.debug("semantic candidate rejected: numbers/entities differ sim=%.3f", sim)
        return None

    async def _mirror(self, scope: CacheScope, dimension: int) -> SemanticMirror:
        skey = scope.semantic_key()
        mirror = self._mirrors.get(skey)
        if mirror is None or mirror.dimension != dimension:
            mirror = SemanticMirror(dimension)
            self._mirrors[skey] = mirror
            while len(self._mirrors) > _MAX_MIRRORS:
                self._mirrors.popitem(last=False)
        self._mirrors.move_to_end(skey)
        count = int(await self.redis.hlen(skey))
        if count != len(mirror):
            await self._sync_mirror(skey, mirror)
        return mirror

    async def _sync_mirror(self, skey: str, mirror: SemanticMirror) -> None:
        fields = [f.decode() if isinstance(f, bytes) else f for f in await self.redis.hkeys(skey)]
        known = dict(zip(mirror.hashes, mirror.matrix, strict=False))
        missing = [f for f in fields if f not in known]
        if missing:
            raws = await self.redis.hmget(skey, missing)
            for name, raw in zip(missing, raws, strict=False):
                vec = decode_vector(raw, mirror.dimension) if raw is not None else None
                if vec is not None:
                    known[name] = vec
        mirror.replace({f: known[f] for f in fields if f in known})

    async def put(
        self, entry: CacheEntry, question_vector: np.ndarray | None, *, ttl_s: int | None
    ) -> None:
        try:
            pipe = self.redis.pipeline(transaction=True)
            queue_put(pipe, entry, question_vector, ttl_s)
            async with deadline():
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheUnavailableError(f"redis cache write failed: {exc}") from exc
        if question_vector is not None:
            mirror = self._mirrors.get(CacheScope.of(entry).semantic_key())
            if mirror is not None and mirror.dimension == question_vector.size:
                mirror.add(entry.normalized_key, np.asarray(question_vector, dtype=np.float32))

    async def purge(self, scope: CacheScope | None = None) -> int:
        removed = 0
        try:
            async with deadline(30.0):
                removed = await self._purge(scope)
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheUnavailableError(f"redis purge failed: {exc}") from exc
        self._mirrors.clear()
        self._decoded.clear()
        return removed

    async def _purge(self, scope: CacheScope | None) -> int:
        removed = 0
        for pattern in purge_patterns(scope):
            keys = [k async for k in self.redis.scan_iter(match=pattern, count=500)]
            for i in range(0, len(keys), 500):
                removed += int(await self.redis.delete(*keys[i : i + 500]))
        return removed
