"""Carry hot answers from one index version to the next, evicting those whose sources changed.

Every ``CacheEntry`` records the chunk ids and content hashes it cites. When a new version is
built, an entry of the old version whose cited chunks all exist unchanged in the new version is
copied to the new version's key (same TTL, same semantic vector); an entry citing a chunk that
changed or disappeared is not carried: exactly the entries whose sources changed drop out.
A copy always expires: an old key without a TTL gets the rest of the entry's ``expires_at``,
else ``ttl_s``; a key that expired while being read is skipped.
Old-version keys are left alone, so a rollback still finds its answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.cache.codec import CacheScope, decode_entry
from shared_schemas.cache import CacheEntry

log = logging.getLogger(__name__)


@dataclass
class CarryReport:
    from_version: str
    to_version: str
    carried: list[str] = field(default_factory=list)  # question hashes
    evicted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"carried {len(self.carried)} cached answers {self.from_version} -> "
            f"{self.to_version}, evicted {len(self.evicted)} whose sources changed"
        )


def carry_over(
    client: Any,
    *,
    old: CacheScope,
    new: CacheScope,
    new_chunks: dict[str, str],
    ttl_s: int | None = None,
    now: datetime | None = None,
) -> CarryReport:
    """Copy ``old``-scope entries whose cited (chunk id, content hash) pairs are all in
    ``new_chunks`` (chunk id -> content hash of the new version) to the ``new`` scope.

    The copy keeps the old key's remaining TTL; for an old key without one, the rest of the
    entry's ``expires_at``, else ``ttl_s``; with neither, the entry is not carried."""
    report = CarryReport(old.index_version, new.index_version)
    if old == new:
        return report
    prefix_len = len(old.key(""))
    vectors = client.hgetall(old.semantic_key())
    for raw_key in client.scan_iter(match=old.key("*"), count=500):
        key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
        qhash = key[prefix_len:]
        entry = decode_entry(client.get(key), key=key)
        if entry is None:
            continue
        if not entry.cited or any(
            new_chunks.get(c.chunk_id) != c.content_hash for c in entry.cited
        ):
            report.evicted.append(qhash)
            continue
        ttl_ms = copy_ttl_ms(int(client.pttl(key)), entry, ttl_s=ttl_s, now=now)
        if ttl_ms is None:
            log.warning("cache entry not carried, expired or no TTL to give it: key=%s", key)
            continue
        moved = entry.model_copy(update={"index_version": new.index_version})
        pipe = client.pipeline(transaction=True)
        pipe.set(new.key(qhash), moved.dumps(), px=ttl_ms)
        vec = vectors.get(qhash.encode()) or vectors.get(qhash)
        if vec is not None:
            pipe.hset(new.semantic_key(), qhash, vec)
        pipe.execute()
        report.carried.append(qhash)
    log.info(
        "cache carry-over from=%s to=%s carried=%d evicted=%d",
        old.index_version,
        new.index_version,
        len(report.carried),
        len(report.evicted),
    )
    return report


def copy_ttl_ms(
    pttl_ms: int, entry: CacheEntry, *, ttl_s: int | None, now: datetime | None = None
) -> int | None:
    """The TTL (ms) of a carried copy, or None when it must not be copied.

    ``pttl_ms`` is Redis's PTTL of the old key: -2 (gone: expired after it was read) skips it;
    -1 (no TTL) falls back to the rest of ``entry.expires_at``, else ``ttl_s``.
    """
    if pttl_ms > 0:
        return pttl_ms
    if pttl_ms != -1:
        return None
    if entry.expires_at is not None:
        when = now or datetime.now(UTC)
        expires = entry.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        left_ms = int((expires - when).total_seconds() * 1000)
        return left_ms if left_ms > 0 else None
    if ttl_s is not None and ttl_s > 0:
        return ttl_s * 1000
    return None
