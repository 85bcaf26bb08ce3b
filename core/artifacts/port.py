"""The artifact-store port and the names it accepts: index version folders, the live pointer
and the publish records (``core.artifacts`` re-exports all of it).

Writes are atomic from a reader's view: a version appears whole (staged, then renamed) and the
pointer moves in one step (temp file + ``os.replace``).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.errors import ArtifactNotFoundError

#: under a store's root: one ``<version>.sha256`` publish record per published version
PUBLISHED_DIR = ".published"
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FILE = re.compile(r"^(?!.*\.\.)[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, fsync, then os.replace (never torn)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_version_name(version: str) -> str:
    """``version`` when it is a safe directory name (no separators, no dot-dot), else ValueError."""
    if not VERSION_NAME.match(version) or version in (".", "..") or version.startswith("."):
        raise ValueError(f"invalid index version name {version!r}")
    return version


def check_file_name(name: str) -> str:
    if not _FILE.match(name):
        raise ValueError(f"invalid artifact file name {name!r}")
    return name


@runtime_checkable
class ArtifactStore(Protocol):
    """Version folders of files and a live pointer."""

    def list_versions(self) -> list[str]:
        """Every complete version, sorted by name."""
        ...

    def has_version(self, version: str) -> bool: ...

    def write_version(self, version: str, files: Mapping[str, bytes]) -> None:
        """Store a whole version at once (replacing one of the same name)."""
        ...

    def read_file(self, version: str, name: str) -> bytes:
        """One file of a version; ``ArtifactNotFoundError`` when absent."""
        ...

    def list_files(self, version: str) -> list[str]:
        """Relative names of a version's files, sorted."""
        ...

    def read_live(self) -> str | None:
        """The live version's name, or None when nothing was published."""
        ...

    def write_live(self, version: str) -> None:
        """Point ``LIVE`` at an existing version, atomically."""
        ...

    def write_version_dir(self, version: str, folder: Path) -> None:
        """Store every file under ``folder`` as ``version`` (big files streamed, not held)."""
        ...

    def download_file(self, version: str, name: str, dest: Path) -> None:
        """Copy one file of a version to ``dest``; ``ArtifactNotFoundError`` when absent."""
        ...

    def delete_version(self, version: str) -> None:
        """Remove a version (it stops being listed first); absent versions are ignored."""
        ...

    def read_published(self, version: str) -> str | None:
        """The manifest digest publish recorded for ``version`` (kept outside the version's
        files), or None when it was never published (``core.index.trust``)."""
        ...

    def write_published(self, version: str, digest: str) -> None:
        """Record ``digest`` (sha256 hex of the manifest) as ``version``'s publish record."""
        ...


def dir_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise ArtifactNotFoundError(f"{folder} is not a folder")
    return sorted(
        check_file_name(p.relative_to(folder).as_posix()) for p in folder.rglob("*") if p.is_file()
    )
