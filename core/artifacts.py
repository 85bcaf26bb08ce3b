"""The artifact-store port: index version directories and the live pointer.

An :class:`ArtifactStore` holds one folder of files per index version plus a ``LIVE`` pointer
naming the version in service. :class:`LocalArtifactStore` is the default (a directory on the
local disk, ``TANDEM_DATA_DIR/indexes``); :class:`InMemoryArtifactStore` serves unit tests. The
conformance suite every adapter passes is ``tests/core/artifact_store_suite.py``;
:class:`core.artifacts_s3.S3ArtifactStore` keeps versions in an S3-compatible bucket.
:func:`open_artifact_store` builds the one the settings choose.

Writes are atomic from a reader's view: a version appears whole (staged, then renamed) and the
pointer moves in one step (temp file + ``os.replace``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.errors import ArtifactNotFoundError
from shared_schemas.config import LocalArtifactStoreConfig, S3ArtifactStoreConfig
from shared_schemas.layout import LIVE_POINTER

#: under a store's root: one ``<version>.sha256`` publish record per published version
PUBLISHED_DIR = ".published"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
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
    if not _NAME.match(version) or version in (".", "..") or version.startswith("."):
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


def _dir_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise ArtifactNotFoundError(f"{folder} is not a folder")
    return sorted(
        check_file_name(p.relative_to(folder).as_posix()) for p in folder.rglob("*") if p.is_file()
    )


class LocalArtifactStore:
    """Version folders under ``root`` (``indexes/``) on the local file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, version: str) -> Path:
        """The folder of ``version`` (readers such as FAISS open files from it directly)."""
        return self.root / check_version_name(version)

    def list_versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and _NAME.match(p.name)
        )

    def has_version(self, version: str) -> bool:
        return self.path_of(version).is_dir()

    def write_version(self, version: str, files: Mapping[str, bytes]) -> None:
        def fill(stage: Path) -> None:
            for name, data in files.items():
                target = stage / check_file_name(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)

        self._replace_with(version, fill)

    def _replace_with(self, version: str, fill: Callable[[Path], object]) -> None:
        """Fill a staging folder, then rename it into place (replacing an older copy)."""
        final = self.path_of(version)
        staging_root = self.root / ".staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f"{version}.", dir=staging_root))
        # mkdtemp makes it private (0700); a published version is read by other users (the
        # stack's online containers run as another uid than the batch side that publishes)
        os.chmod(stage, 0o755)
        try:
            fill(stage)
            if final.exists():
                old = staging_root / f"{version}.old.{os.getpid()}"
                os.replace(final, old)
                os.replace(stage, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(stage, final)
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)

    def read_file(self, version: str, name: str) -> bytes:
        path = self.path_of(version) / check_file_name(name)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ArtifactNotFoundError(f"{version}/{name} is not in {self.root}") from exc

    def list_files(self, version: str) -> list[str]:
        folder = self.path_of(version)
        if not folder.is_dir():
            raise ArtifactNotFoundError(f"version {version} is not in {self.root}")
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

    def read_live(self) -> str | None:
        try:
            name = (self.root / LIVE_POINTER).read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def write_live(self, version: str) -> None:
        if not self.has_version(version):
            raise ArtifactNotFoundError(f"cannot point LIVE at {version}: not in {self.root}")
        write_text_atomic(self.root / LIVE_POINTER, version + "\n")

    def write_version_dir(self, version: str, folder: Path) -> None:
        final = self.path_of(version)
        if Path(folder).resolve() == final.resolve():
            return  # already in place (the build writes straight into the store)
        names = _dir_files(Path(folder))

        def fill(stage: Path) -> None:
            for name in names:
                (stage / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(folder) / name, stage / name)

        self._replace_with(version, fill)

    def download_file(self, version: str, name: str, dest: Path) -> None:
        src = self.path_of(version) / check_file_name(name)
        if not src.is_file():
            raise ArtifactNotFoundError(f"{version}/{name} is not in {self.root}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    def delete_version(self, version: str) -> None:
        final = self.path_of(version)
        if not final.exists():
            return
        staging_root = self.root / ".staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        doomed = staging_root / f"{version}.deleted.{secrets.token_hex(4)}"
        os.replace(final, doomed)  # gone from listings in one step
        shutil.rmtree(doomed, ignore_errors=True)

    def _published_path(self, version: str) -> Path:
        return self.root / PUBLISHED_DIR / f"{check_version_name(version)}.sha256"

    def read_published(self, version: str) -> str | None:
        try:
            return self._published_path(version).read_text("utf-8").strip() or None
        except OSError:
            return None

    def write_published(self, version: str, digest: str) -> None:
        path = self._published_path(version)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, digest + "\n")


class InMemoryArtifactStore:
    """The same contract in a dict, for unit tests of logic that reads or publishes versions."""

    def __init__(self) -> None:
        self._versions: dict[str, dict[str, bytes]] = {}
        self._live: str | None = None
        self._published: dict[str, str] = {}
        self._lock = threading.Lock()

    def list_versions(self) -> list[str]:
        with self._lock:
            return sorted(self._versions)

    def has_version(self, version: str) -> bool:
        return check_version_name(version) in self._versions

    def write_version(self, version: str, files: Mapping[str, bytes]) -> None:
        check_version_name(version)
        copy = {check_file_name(n): bytes(d) for n, d in files.items()}
        with self._lock:
            self._versions[version] = copy

    def read_file(self, version: str, name: str) -> bytes:
        try:
            return self._versions[check_version_name(version)][check_file_name(name)]
        except KeyError as exc:
            raise ArtifactNotFoundError(f"{version}/{name} is not in the store") from exc

    def list_files(self, version: str) -> list[str]:
        try:
            return sorted(self._versions[check_version_name(version)])
        except KeyError as exc:
            raise ArtifactNotFoundError(f"version {version} is not in the store") from exc

    def read_live(self) -> str | None:
        return self._live

    def write_live(self, version: str) -> None:
        if not self.has_version(version):
            raise ArtifactNotFoundError(f"cannot point LIVE at {version}: not in the store")
        self._live = version

    def write_version_dir(self, version: str, folder: Path) -> None:
        names = _dir_files(Path(folder))
        self.write_version(version, {n: (Path(folder) / n).read_bytes() for n in names})

    def download_file(self, version: str, name: str, dest: Path) -> None:
        data = self.read_file(version, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)

    def delete_version(self, version: str) -> None:
        with self._lock:
            self._versions.pop(check_version_name(version), None)

    def read_published(self, version: str) -> str | None:
        return self._published.get(check_version_name(version))

    def write_published(self, version: str, digest: str) -> None:
        self._published[check_version_name(version)] = digest


def open_artifact_store(config: LocalArtifactStoreConfig | S3ArtifactStoreConfig) -> ArtifactStore:
    """The adapter ``config`` chooses; the S3 client library is imported only for S3."""
    if config.backend == "s3":
        from core.artifacts_s3 import S3ArtifactStore

        return S3ArtifactStore(config)
    return LocalArtifactStore(config.root)


def read_live_version(indexes_dir: Path) -> str | None:
    """The version named by ``indexes/LIVE`` on the local disk, or None when nothing is live."""
    return LocalArtifactStore(indexes_dir).read_live()
