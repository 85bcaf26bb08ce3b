"""The bounded answer store in Redis: capacity per scope, LRU eviction, vectors that expire.

Every write of an answer is one Lua script (``PUT``) on the scope's keys
(:class:`core.cache.codec.ScopeKeys`): it stores the answer with its TTL and the question vector,
stamps the question in the scope's use order (``semlru``, a logical tick, so ties never depend on
clocks) and expiry set (``semexp``), drops up to 64 vectors whose answers have expired, then
evicts the least recently used answers (answer key and vector) beyond the capacity. Each vector
added or dropped is appended to the scope's change log (``semlog``, a bounded stream, each entry
numbered by ``semmeta.seq``), which replicas replay to keep their in-process mirrors in step
without re-reading the hash. The scope's keys live as long as its longest-lived entry.

A read that found an answer records the use with ``TOUCH`` (batched by the service).
Cost per write: O(log n) sorted-set work plus the evictions and expiries it performs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.cache.codec import ANSWER_PREFIX, CacheScope, encode_vector, ttl_for
from shared_schemas.cache import CacheEntry
from shared_schemas.layout import (
    SEMANTIC_EXPIRY_PREFIX,
    SEMANTIC_LOG_PREFIX,
    SEMANTIC_LRU_PREFIX,
    SEMANTIC_META_PREFIX,
    SEMANTIC_PREFIX,
)

#: answers kept per cache scope when nothing else is configured
DEFAULT_CAPACITY = 50_000
_SWEEP = 64  # expired vectors dropped per write, at most

PUT = f"""
local answer, vectors, lru, expiry = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local clog, meta = KEYS[5], KEYS[6]
local qh, body, ttl, vec = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local capacity, prefix, logmax = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HSETNX', meta, 'epoch', t[1] .. '.' .. t[2])
local function log(op, h)
  local n = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('XADD', clog, 'MAXLEN', '~', logmax, '*', 'op', op, 'h', h, 'n', n)
end
local function drop(h)
  redis.call('ZREM', lru, h)
  redis.call('ZREM', expiry, h)
  if redis.call('HDEL', vectors, h) == 1 then log('d', h) end
end
if ttl > 0 then
  redis.call('SET', answer, body, 'EX', ttl)
else
  redis.call('SET', answer, body)
end
local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, {_SWEEP})
for _, h in ipairs(expired) do
  if h ~= qh then drop(h) end
end
redis.call('ZADD', lru, redis.call('HINCRBY', meta, 'tick', 1), qh)
if ttl > 0 then
  redis.call('ZADD', expiry, now + ttl * 1000, qh)
else
  redis.call('ZREM', expiry, qh)
  redis.call('HSET', meta, 'persist', 1)
end
if vec ~= '' then
  redis.call('HSET', vectors, qh, vec)
  log('a', qh)
end
local evicted = 0
if capacity > 0 then
  local over = redis.call('ZCARD', lru) - capacity
  if over > 0 then
    local victims = redis.call('ZPOPMIN', lru, over)
    for i = 1, #victims, 2 do
      redis.call('DEL', prefix .. victims[i])
      drop(victims[i])
      evicted = evicted + 1
    end
  end
end
local keep = {{vectors, lru, expiry, clog, meta}}
if redis.call('HEXISTS', meta, 'persist') == 1 then
  for _, k in ipairs(keep) do redis.call('PERSIST', k) end
elseif ttl > 0 then
  for _, k in ipairs(keep) do
    if redis.call('PTTL', k) < ttl * 1000 then redis.call('PEXPIRE', k, ttl * 1000) end
  end
end
return {{evicted, #expired}}
"""

TOUCH = """
local lru, meta = KEYS[1], KEYS[2]
if redis.call('EXISTS', lru) == 0 then return 0 end
for i = 1, #ARGV do
  redis.call('ZADD', lru, 'XX', redis.call('HINCRBY', meta, 'tick', 1), ARGV[i])
end
return #ARGV
"""


def queue_bounded_put(
    pipe: Any,
    scope: CacheScope,
    question_hash: str,
    body: str | bytes,
    vector: bytes | None,
    ttl_s: int | None,
    *,
    capacity: int,
) -> None:
    """Queue :data:`PUT` on a (sync or async) Redis pipeline; ``capacity`` 0: unbounded."""
    keys = scope.keys
    # execute_command, not pipe.eval: a cluster pipeline routes EVAL by its keys (one slot: the
    # scope's hash tag) but has no eval() of its own
    pipe.execute_command(
        "EVAL",
        PUT,
        6,
        scope.key(question_hash),
        keys.vectors,
        keys.lru,
        keys.expiry,
        keys.log,
        keys.meta,
        question_hash,
        body,
        int(ttl_s or 0),
        vector or b"",
        int(capacity),
        scope.key(""),
        max(1000, int(capacity)),
    )


def queue_touch(pipe: Any, scope: CacheScope, question_hashes: list[str]) -> None:
    """Queue :data:`TOUCH`: the questions were just read (they move to the young end)."""
    keys = scope.keys
    pipe.execute_command("EVAL", TOUCH, 2, keys.lru, keys.meta, *question_hashes)


def queue_put(
    pipe: Any,
    entry: CacheEntry,
    question_vector: np.ndarray | None,
    ttl_s: int | None,
    *,
    capacity: int = DEFAULT_CAPACITY,
) -> None:
    """Queue the script that stores one entry (its key, body, vector and TTL) on a pipeline:
    what both faces of the Redis cache write with."""
    queue_bounded_put(
        pipe,
        CacheScope.of(entry),
        entry.normalized_key,
        entry.dumps(),
        encode_vector(question_vector) if question_vector is not None else None,
        ttl_for(entry, ttl_s),
        capacity=capacity,
    )


#: the prefixes of a scope's semantic side (vectors, LRU, expiry, log, meta)
_SEMANTIC_SIDE = (
    SEMANTIC_PREFIX,
    SEMANTIC_LRU_PREFIX,
    SEMANTIC_EXPIRY_PREFIX,
    SEMANTIC_LOG_PREFIX,
    SEMANTIC_META_PREFIX,
)


def version_purge_patterns(index_version: str) -> list[str]:
    """The key patterns of every scope of one index version (``layout.cache_key``: the version
    follows the ``s<schema>`` part); the version is checked first, so it holds no glob."""
    from core.index.version import IndexVersion  # ValueError: not a version name

    name = IndexVersion.parse(index_version).name
    return [f"{prefix}:*:s*:{name}:*" for prefix in (ANSWER_PREFIX, *_SEMANTIC_SIDE)]


def purge_patterns(scope: CacheScope | None) -> list[str]:
    """The key patterns a purge of one scope (or of every cached answer) deletes."""
    if scope is None:
        return [f"{ANSWER_PREFIX}:*", *(f"{p}:*" for p in _SEMANTIC_SIDE)]
    return [scope.key("*"), *scope.keys.all()]
