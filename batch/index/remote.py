"""The configured remote artifact store (S3) that publish mirrors versions and LIVE into.

With the default local store, ``indexes/`` is the store and nothing here runs. With
``TANDEM_ARTIFACTS_URL=s3://...`` publish uploads the verified version directory (multipart for
big files), downloads it back into a temporary folder and checks every sha256 against the
manifest, mirrors the publish record (the manifest's sha256, ``core.index.trust``) into the
bucket, and only then moves the remote LIVE object (after the local pointer); rollback moves it
back; retention deletes the removed versions from the bucket too. Replicas serve a version from
the bucket only when its record there names its manifest (``core.index.fetch``), so a version
written into the bucket by anything but publish is not served.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from batch.index import PublishError
from core.artifacts import ArtifactStore, open_artifact_store
from core.errors import CoreError, IndexLoadError
from core.index.fetch import materialise_version
from shared_schemas.layout import MANIFEST_FILE

if TYPE_CHECKING:
    from batch.settings import BatchSettings

log = logging.getLogger(__name__)


def remote_store(settings: BatchSettings) -> ArtifactStore | None:
    """The remote store the settings name, or None when versions stay on the local disk."""
    config = settings.artifact_store_config()
    return None if config.backend == "local" else open_artifact_store(config)


def upload_verified(store: ArtifactStore, version: str, vdir: Path) -> None:
    """Upload ``vdir`` as ``version`` unless the store holds the same manifest, then download
    it back and check every sha256 (a copy that fails is uploaded again once)."""
    try:
        same = (
            store.has_version(version)
            and store.read_file(version, MANIFEST_FILE) == (vdir / MANIFEST_FILE).read_bytes()
        )
        if not same:
            store.write_version_dir(version, vdir)
            log.info("uploaded index version=%s to %r", version, store)
        try:
            _check(store, version)
        except IndexLoadError:
            if not same:
                raise
            log.warning("stored copy of %s does not verify; uploading it again", version)
            store.write_version_dir(version, vdir)
            _check(store, version)
    except (CoreError, OSError) as exc:
        raise PublishError(f"refusing to publish {version}: upload to {store!r}: {exc}") from exc


def _check(store: ArtifactStore, version: str) -> None:
    with tempfile.TemporaryDirectory(prefix="tandem-verify-") as tmp:
        materialise_version(store, version, Path(tmp), require_published=False)


def record_published(store: ArtifactStore, version: str, digest: str) -> None:
    """Mirror ``version``'s publish record into the remote store (before LIVE names it)."""
    try:
        store.write_published(version, digest)
    except (CoreError, OSError) as exc:
        raise PublishError(f"publish record of {version} not written to {store!r}: {exc}") from exc


def move_live(store: ArtifactStore, version: str) -> None:
    """Point the remote LIVE object at ``version`` (it was uploaded and verified before)."""
    try:
        store.write_live(version)
    except (CoreError, OSError) as exc:
        raise PublishError(f"remote LIVE not moved to {version}: {exc}") from exc


def require_version(store: ArtifactStore, version: str) -> None:
    """PublishError unless the remote store holds ``version`` whole and verified."""
    try:
        _check(store, version)
    except IndexLoadError as exc:
        raise PublishError(f"{version} is not usable in {store!r}: {exc}") from exc


def delete_versions(store: ArtifactStore, versions: tuple[str, ...]) -> None:
    for version in versions:
        try:
            store.delete_version(version)
            log.info("removed old index version=%s from %r", version, store)
        except (CoreError, OSError) as exc:  # retention is best effort; the next run retries
            log.warning("could not remove %s from %r: %s", version, store, exc)
