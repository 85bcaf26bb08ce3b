"""Materialise an index version from an artifact store into a local cache folder, verified.

FAISS and bm25s read files from a local folder, so a replica fed by a remote store (S3) first
downloads the version into ``<cache_dir>/.staging/``, checks every artifact's size and sha256
against the downloaded manifest (:func:`core.index.format.verify_artifacts`), and only then
renames the folder to ``<cache_dir>/<version>``. A partial or corrupt download raises
:class:`IndexLoadError` and leaves nothing under the version's name, so the caller keeps serving
what it has. A folder already in the cache is verified again before it is reused.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Collection
from pathlib import Path

from core.artifacts import ArtifactStore, LocalArtifactStore, check_version_name
from core.errors import ArtifactNotFoundError, CoreError, IndexLoadError
from core.index.format import read_manifest, verify_artifacts

log = logging.getLogger(__name__)

STAGING = ".staging"


def _verified(folder: Path, version: str) -> None:
    manifest = read_manifest(folder)
    if manifest.index_version != version:
        raise IndexLoadError(
            f"index version {version}: its manifest names {manifest.index_version}"
        )
    verify_artifacts(folder, manifest)


def materialise_version(store: ArtifactStore, version: str, cache_dir: Path) -> Path:
    """A local, verified folder holding ``version`` (a local store's own folder is used as is)."""
    if isinstance(store, LocalArtifactStore):
        return store.path_of(version)
    final = Path(cache_dir) / check_version_name(version)
    if final.is_dir():
        try:
            _verified(final, version)
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
