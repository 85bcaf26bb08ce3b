"""Which index versions may be served: a name the one parser accepts, a directory inside the
indexes directory, and a manifest that publish vouched for.

``tandem index publish`` writes ``indexes/.published/<version>.sha256`` (the sha256 of the
version's ``manifest.json``) after verifying the version and before moving ``LIVE``. The record
lives outside the version directory, so a directory copied or written in without publish is not
served, and a manifest replaced after publish no longer matches. The artifacts themselves are
checked against the manifest by :func:`core.index.load_index`.

Error texts name the version but never say whether some path exists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.artifacts import PUBLISHED_DIR, check_version_name, write_text_atomic
from core.errors import IndexLoadError
from core.index.version import IndexVersion
from shared_schemas.layout import MANIFEST_FILE

__all__ = ["PUBLISHED_DIR", "check_published", "manifest_digest", "record_published"]


def version_dir(indexes_dir: Path, version: str) -> Path:
    """The resolved directory of ``version``; IndexLoadError for anything but a version name
    whose directory stays inside ``indexes_dir`` (no separators, no ``..``, no symlink out)."""
    try:
        check_version_name(IndexVersion.parse(version).name)
    except ValueError:
        raise IndexLoadError(_not_a_version(version)) from None
    root = Path(indexes_dir).resolve()
    path = (root / version).resolve()
    if path.parent != root:
        raise IndexLoadError(_not_a_version(version))
    return path


def _not_a_version(version: str) -> str:
    return f"{version!r} is not an index version name (YYYYMMDD-xxxxxxxx) of the indexes directory"


def manifest_digest(vdir: Path) -> str:
    """sha256 hex of a version directory's ``manifest.json``."""
    try:
        return hashlib.sha256((vdir / MANIFEST_FILE).read_bytes()).hexdigest()
    except OSError as exc:
        raise IndexLoadError(f"index version {vdir.name}: manifest unreadable") from exc


def _record_path(indexes_dir: Path, version: str) -> Path:
    return Path(indexes_dir) / PUBLISHED_DIR / f"{version_dir(indexes_dir, version).name}.sha256"


def record_published(indexes_dir: Path, version: str) -> str:
    """Record ``version``'s manifest digest as published (atomic); returns the digest."""
    digest = manifest_digest(version_dir(indexes_dir, version))
    record = _record_path(indexes_dir, version)
    record.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(record, digest + "\n")
    return digest


def check_published(indexes_dir: Path, version: str) -> Path:
    """The directory of ``version`` when its manifest is the one publish recorded, else
    IndexLoadError (a bad name, no record, or a manifest changed since)."""
    vdir = version_dir(indexes_dir, version)
    try:
        recorded = _record_path(indexes_dir, version).read_text("utf-8").strip()
    except OSError:
        raise IndexLoadError(
            f"index version {version} is not published (no publish record); "
            "publish it with `tandem index publish`"
        ) from None
    if manifest_digest(vdir) != recorded:
        raise IndexLoadError(
            f"index version {version}: manifest does not match its publish record; "
            "re-publish it with `tandem index publish`"
        )
    return vdir
