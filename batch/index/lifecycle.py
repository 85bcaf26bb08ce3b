"""The published-index lifecycle as one port: staging a version for publish, its publish
record, the live pointer with ``HISTORY``, and retiring old versions.

``LocalIndexLifecycle`` keeps all of it in ``indexes/`` (the default store). With
``TANDEM_ARTIFACTS_URL=s3://...`` ``MirroredIndexLifecycle`` keeps the local disk as the truth
and mirrors each step into the bucket (``batch.index.remote``), in an order that never lets the
bucket's ``LIVE`` name a version it does not hold verified: upload and verify before any pointer
moves; the local pointer and ``HISTORY`` first, then the bucket's ``LIVE``; retention deletes
from the bucket after the local disk. ``open_lifecycle`` chooses by settings.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from batch.index import remote, store
from core.index import read_live_version
from core.index.trust import record_published

if TYPE_CHECKING:
    from batch.settings import BatchSettings
    from core.artifacts import ArtifactStore

log = logging.getLogger(__name__)

STALE_STAGING = timedelta(hours=6)
Action = Literal["publish", "rollback"]


class IndexLifecycle(Protocol):
    """Where published index versions, their records, LIVE and HISTORY are kept."""

    @property
    def indexes_dir(self) -> Path:
        """The local ``indexes/`` folder (version directories are verified there)."""
        ...

    def live(self) -> str | None:
        """The live version, or None when nothing was published."""
        ...

    def history(self) -> list[store.HistoryEntry]:
        """Every pointer move, oldest first."""
        ...

    def stage(self, version: str) -> None:
        """Make a verified ``version`` available wherever it is served from, before any pointer
        moves (PublishError when it cannot be)."""
        ...

    def require(self, version: str) -> None:
        """PublishError unless ``version`` is whole and verified wherever it is served from."""
        ...

    def record_published(self, version: str) -> str:
        """Write ``version``'s publish record everywhere; returns the manifest digest."""
        ...

    def move_live(self, action: Action, version: str, previous: str | None) -> None:
        """Point LIVE at ``version`` and record the move in HISTORY (a publish of the version
        already live moves nothing locally)."""
        ...

    def retire(self, versions: tuple[str, ...]) -> None:
        """Delete ``versions`` (never live or previous: the caller chose them) and stale
        staging folders."""
        ...


class LocalIndexLifecycle:
    """The lifecycle on the local ``indexes/`` folder."""

    def __init__(self, indexes_dir: Path) -> None:
        self._dir = Path(indexes_dir)

    @property
    def indexes_dir(self) -> Path:
        return self._dir

    def __repr__(self) -> str:
        return f"LocalIndexLifecycle({str(self._dir)!r})"

    def live(self) -> str | None:
        return read_live_version(self._dir)

    def history(self) -> list[store.HistoryEntry]:
        return store.read_history(self._dir)

    def stage(self, version: str) -> None:
        return None  # the version directory is already where it is served from

    def require(self, version: str) -> None:
        return None  # verified by the caller on the local disk

    def record_published(self, version: str) -> str:
        return record_published(self._dir, version)  # what the service checks before serving

    def move_live(self, action: Action, version: str, previous: str | None) -> None:
        if action == "publish" and previous == version:
            return
        store.set_live_pointer(self._dir, version)
        store.append_history(self._dir, action, version, previous)
        if action == "publish":
            log.info("live pointer moved version=%s previous=%s", version, previous)
        else:
            log.info("rolled back live=%s from=%s", version, previous)

    def retire(self, versions: tuple[str, ...]) -> None:
        for version in versions:
            store.remove_tree(self._dir / version)
            log.info("removed old index version=%s", version)
        self._clean_staging()

    def _clean_staging(self) -> None:
        staging = self._dir / store.STAGING_DIR
        if not staging.is_dir():
            return
        cutoff = datetime.now(UTC) - STALE_STAGING
        for d in staging.iterdir():
            if datetime.fromtimestamp(d.stat().st_mtime, UTC) < cutoff:
                store.remove_tree(d)


class MirroredIndexLifecycle:
    """The local lifecycle, each step mirrored into a bucket (``ArtifactStore``)."""

    def __init__(self, local: LocalIndexLifecycle, bucket: ArtifactStore) -> None:
        self._local = local
        self.bucket = bucket

    @property
    def indexes_dir(self) -> Path:
        return self._local.indexes_dir

    def __repr__(self) -> str:
        return f"MirroredIndexLifecycle({self._local!r}, {self.bucket!r})"

    def live(self) -> str | None:
        return self._local.live()

    def history(self) -> list[store.HistoryEntry]:
        return self._local.history()

    def stage(self, version: str) -> None:
        remote.upload_verified(self.bucket, version, self.indexes_dir / version)

    def require(self, version: str) -> None:
        remote.require_version(self.bucket, version)

    def record_published(self, version: str) -> str:
        digest = self._local.record_published(version)
        remote.record_published(self.bucket, version, digest)
        return digest

    def move_live(self, action: Action, version: str, previous: str | None) -> None:
        self._local.move_live(action, version, previous)
        remote.move_live(self.bucket, version)

    def retire(self, versions: tuple[str, ...]) -> None:
        self._local.retire(versions)
        if versions:
            remote.delete_versions(self.bucket, versions)


def open_lifecycle(settings: BatchSettings) -> IndexLifecycle:
    """The local lifecycle, mirrored into the bucket when the settings name one."""
    local = LocalIndexLifecycle(settings.indexes_dir)
    bucket = remote.remote_store(settings)
    return local if bucket is None else MirroredIndexLifecycle(local, bucket)
