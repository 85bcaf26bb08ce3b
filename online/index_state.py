"""The live index as one swappable reference.

:class:`IndexHolder.current` is a single attribute holding an immutable :class:`IndexState`
(index + versions + chunk lookup). A reload builds a whole new state and assigns it in one step,
so a request that read the old state keeps using it to the end, and cache keys (which carry the
index version) move to the new version at the same instant.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.index import Hit, LoadedIndex, load_index
from online.errors import NoIndexError
from shared_schemas.layout import IDMAP_FILE

log = logging.getLogger(__name__)


@runtime_checkable
class SupportsChunkLookup(Protocol):
    def chunk(self, chunk_id: str) -> Hit | None: ...


@dataclass(frozen=True)
class ChunkInfo:
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class IndexState:
    index: LoadedIndex
    version: str
    loaded_at: float  # time.time()
    version_dir: Path | None = None
    chunks: dict[str, ChunkInfo] = field(default_factory=dict, repr=False)
    #: the index answers ``chunk(chunk_id)`` itself (decided once: isinstance on a Protocol is slow)
    index_lookup: bool = False

    @property
    def built_at(self) -> datetime:
        return self.index.manifest.build_finished_at

    def chunk(self, chunk_id: str) -> ChunkInfo | None:
        """Title and text of a chunk of this version (for answers served from the cache)."""
        if self.index_lookup:
            hit = self.index.chunk(chunk_id)  # type: ignore[attr-defined]
            return ChunkInfo(hit.doc_id, hit.title, hit.text) if hit else None
        return self.chunks.get(chunk_id)

    def age_s(self, now: datetime | None = None) -> float:
        built = self.built_at if self.built_at.tzinfo else self.built_at.replace(tzinfo=UTC)
        return max(0.0, ((now or datetime.now(UTC)) - built).total_seconds())


def _chunk_map(version_dir: Path) -> dict[str, ChunkInfo]:
    import pyarrow.parquet as pq

    table = pq.read_table(version_dir / IDMAP_FILE, columns=["chunk_id", "doc_id", "title", "text"])
    cols = [table.column(c).to_pylist() for c in ("chunk_id", "doc_id", "title", "text")]
    return {
        str(c): ChunkInfo(str(d), str(t or ""), str(x)) for c, d, t, x in zip(*cols, strict=False)
    }


def load_state(version_dir: Path, *, expected_model: str | None) -> IndexState:
    """Load and verify a version directory (blocking; raises ``IndexLoadError``)."""
    index = load_index(version_dir, expected_model=expected_model, verify=True)
    lookup = isinstance(index, SupportsChunkLookup)
    chunks = {} if lookup else _chunk_map(version_dir)
    return IndexState(
        index=index,
        version=index.manifest.index_version,
        loaded_at=time.time(),
        version_dir=version_dir,
        chunks=chunks,
        index_lookup=lookup,
    )


@dataclass
class IndexHolder:
    """The one reference to the live index, plus what the last reload attempt said."""

    current: IndexState | None = None
    last_error: str | None = None
    last_error_version: str | None = None
    swaps: int = 0

    def require(self) -> IndexState:
        state = self.current
        if state is None:
            raise NoIndexError(
                "no index version is loaded yet: build and publish one "
                "(tandem index build / tandem index publish)"
            )
        return state

    def swap(self, state: IndexState) -> IndexState | None:
        old, self.current = self.current, state
        self.last_error = self.last_error_version = None
        self.swaps += 1
        log.info(
            "index swapped version=%s previous=%s", state.version, old.version if old else None
        )
        return old

    def failed(self, version: str, error: str) -> None:
        self.last_error, self.last_error_version = error, version
        log.error(
            "index version %s failed to load; still serving %s: %s",
            version,
            self.current.version if self.current else None,
            error,
        )
