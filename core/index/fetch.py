"""Materialise an index version from an artifact store into a local cache folder, verified.

FAISS and bm25s read files from a local folder, so a replica fed by a remote store (S3) first
downloads the version into ``<cache_dir>/.staging/``, checks every artifact's size and sha256
against the downloaded manifest (:func:`core.index.format.verify_artifacts`), and only then
renames the folder to ``<cache_dir>/<version>``. A partial or corrupt download raises
:class:`IndexLoadError` and leaves nothing under the version's name, so the caller keeps serving
what it has. A folder already in the cache is verified again before it is reused. The trust rule
of :mod:`core.index.trust` holds here too: a version is handed out only when the store's publish
record (mirrored there by publish) names its manifest's sha256; only publish's own check of an
upload, before it writes the record, asks for ``require_published=False``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
from collections.abc import Collection
from pathlib import Path

from core.artifacts import ArtifactStore, LocalArtifactStore, check_version_name
from core.errors import ArtifactNotFoundError, CoreError, IndexLoadError
from core.index.format import read_manifest, verify_artifacts
from core.index.trust import check_published
from shared_schemas.layout import MANIFEST_FILE

log = logging.getLogger(__name__)

STAGING = ".staging"


def _verified(folder: Path, version: str) -> None:
    manifest = read_manifest(folder)
    if manifest.index_version != version:
        raise IndexLoadError(
            f"index version {version}: its manifest names {manifest.index_version}"
        )
    verify_artifacts(folder, manifest)


def _not_published(version: str) -> IndexLoadError:
    return IndexLoadError(
        f"index version {version} is not published (no publish record in the store); "
        "publish it with `tandem index publish`"
    )


def _vouched(store: ArtifactStore, folder: Path, version: str) -> None:
    recorded = store.read_published(version)
    if recorded is None:
        raise _not_published(version)
    digest = hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
    if digest != recorded:
        raise IndexLoadError(
            f"index version {version}: manifest does not match its publish record; "
            "re-publish it with `tandem index publish`"
        )


def materialise_version(
    store: ArtifactStore, version: str, cache_dir: Path, *, require_published: bool = True
) -> Path:
    """A local, verified folder holding ``version`` (a local store's own folder is used as is);
    with ``require_published``, IndexLoadError unless its publish record names its manifest."""
    if isinstance(store, LocalArtifactStore):
        if require_published:
            return check_published(store.root, version)
        return store.path_of(version)
    check_version_name(version)
    if require_published and store.read_published(version) is None:  # before any download
        raise _not_published(version)
    final = Path(cache_dir) / version
    if final.is_dir():
        try:
            _verified(final, version)
            if require_published:
                _vouched(store, final, version)
            return final
        except IndexLoadError as exc:
            log.warning(
                "cached copy of %s failed verification, downloading again: %s", version, exc
            )
            shutil.rmtree(final, ignore_errors=True)
    stage = Path(cache_dir) / STAGING / f"{version}-{secrets.token_hex(4)}"
    stage.mkdir(parents=True)
    try:
        try:
            for name in store.list_files(version):
                store.download_file(version, name, stage / name)
        except (ArtifactNotFoundError, CoreError, OSError) as exc:
            raise IndexLoadError(f"index version {version}: download failed ({exc})") from exc
        _verified(stage, version)
        if require_published:
            _vouched(store, stage, version)
        os.replace(stage, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("index version materialised version=%s cache=%s", version, final)
    return final


def prune_cache(cache_dir: Path, keep: Collection[str]) -> list[str]:
    """Delete cached versions not in ``keep``; the names removed."""
    if not Path(cache_dir).is_dir():
        return []
    removed = []
    for entry in sorted(Path(cache_dir).iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def read_pointer(store: ArtifactStore) -> str | None:
    """The version ``store``'s ``LIVE`` pointer names (None when it names none or cannot be
    read: the caller falls back to the Redis manifest). The service's reloader and the refine
    worker both ask this first: ``LIVE`` is the truth (publish replaces it before Redis)."""
    try:
        return store.read_live()
    except (CoreError, OSError) as exc:
        log.warning("live pointer not readable from %r: %s", store, exc)
        return None
