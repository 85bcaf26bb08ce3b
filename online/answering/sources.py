"""The sources a cached answer cites, resolved against the index that serves it."""

from __future__ import annotations

from typing import Any

from online.answers import Source, render_sources
from online.index_state import IndexState
from shared_schemas.cache import CacheEntry


def resolve_sources(state: IndexState, entry: CacheEntry) -> list[Source]:
    """The chunks ``entry`` cites, with their title and text from ``state``'s index (a chunk
    the index no longer holds keeps the entry's document id, no title and no text)."""
    out = []
    for c in entry.cited:
        info = state.chunk(c.chunk_id)
        out.append(
            Source(
                chunk_id=c.chunk_id,
                doc_id=info.doc_id if info else c.doc_id,
                title=info.title if info else "",
                score=c.score,
                text=info.text if info else "",
            )
        )
    return out


class CitedSources:
    """Sources of a cached answer and their JSON, memoised per index version and entry (a hot
    answer is served many times: its sources are resolved and rendered once)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._memo: dict[tuple[Any, ...], tuple[list[Source], str]] = {}

    def __call__(self, state: IndexState, entry: CacheEntry) -> tuple[list[Source], str]:
        key = (state.version, entry.normalized_key, entry.created_at, entry.answer)
        memo = self._memo.get(key)
        if memo is None:
            sources = resolve_sources(state, entry)
            memo = (sources, render_sources(sources))
            if len(self._memo) >= self.capacity:
                self._memo.clear()
            self._memo[key] = memo
        return memo
