"""Carry hot answers from one index version to the next, evicting those whose sources changed.

Every ``CacheEntry`` records the chunk ids and content hashes it cites. When a new version is
built, an entry of the old version whose cited chunks all exist unchanged in the new version is
copied to the new version's key (same TTL, same semantic vector); an entry citing a chunk that
changed or disappeared is not carried: exactly the entries whose sources changed drop out.
Old-version keys are left alone, so a rollback still finds its answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from online.cache.codec import CacheScope, decode_entry

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
) -> CarryReport:
    """Copy ``old``-scope entries whose cited (chunk id, content hash) pairs are all in
    ``new_chunks`` (chunk id -> content hash of the new version) to the ``new`` scope."""
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
        ttl_ms = int(client.pttl(key))
        moved = entry.model_copy(update={"index_version": new.index_version})
        pipe = client.pipeline(transaction=True)
        pipe.set(new.key(qhash), moved.dumps(), px=ttl_ms if ttl_ms > 0 else None)
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
