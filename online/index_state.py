"""The live index as one swappable reference.

:class:`IndexHolder.current` is a single attribute holding an immutable :class:`IndexState`
(index + versions; chunk texts are held once, by the index). A reload builds a whole new state
and assigns it in one step, so a request that read the old state keeps using it to the end, and
cache keys (which carry the index version) move to the new version at the same instant.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.index import Hit, LoadedIndex, load_index
from online.errors import NoIndexError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexState:
    index: LoadedIndex
    version: str
    loaded_at: float  # time.time()
    version_dir: Path | None = None

    @property
    def built_at(self) -> datetime:
        return self.index.manifest.build_finished_at

    def chunk(self, chunk_id: str) -> Hit | None:
        """The chunk of this version (for answers served from the cache), held by the index."""
        return self.index.chunk(chunk_id)

    def age_s(self, now: datetime | None = None) -> float:
        built = self.built_at if self.built_at.tzinfo else self.built_at.replace(tzinfo=UTC)
        return max(0.0, ((now or datetime.now(UTC)) - built).total_seconds())


def load_state(version_dir: Path, *, expected_model: str | None) -> IndexState:
    """Load and verify a version directory (blocking; raises ``IndexLoadError``)."""
    index = load_index(version_dir, expected_model=expected_model, verify=True)
    return IndexState(
        index=index,
        version=index.manifest.index_version,
        loaded_at=time.time(),
        version_dir=version_dir,
    )


@dataclass
class IndexHolder:
    """The one reference to the live index, plus what the last reload attempt said."""

    current: IndexState | None = None
    last_error: str | None = None
    last_error_version: str | None = None
    #: the last error came from an operator's reload of a chosen version (``/admin/reload``)
    last_error_chosen: bool = False
    swaps: int = 0
    pinned: str | None = None  # a version an operator chose, held until the next publish

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
        self.succeeded(chosen=True)
        self.swaps += 1
        log.info(
            "index swapped version=%s previous=%s", state.version, old.version if old else None
        )
        return old

    def succeeded(self, *, chosen: bool) -> None:
        """A reload ended serving its target (swapped in, or already served): the last failure is
        history. The follower's routine check leaves an operator's failed reload reported until
        the next swap or operator reload, which the operator then sees in ``/readyz``."""
        if chosen or not self.last_error_chosen:
            self.last_error = self.last_error_version = None
            self.last_error_chosen = False

    def failed(self, version: str, error: str, *, chosen: bool = False) -> None:
        self.last_error, self.last_error_version = error, version
        self.last_error_chosen = chosen
        log.error(
            "index version %s failed to load; still serving %s: %s",
            version,
            self.current.version if self.current else None,
            error,
        )
