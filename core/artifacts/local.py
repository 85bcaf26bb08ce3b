"""The default artifact store: a directory on the local disk (``TANDEM_DATA_DIR/indexes``)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from core.artifacts.port import (
    PUBLISHED_DIR,
    VERSION_NAME,
    check_file_name,
    check_version_name,
    dir_files,
    write_text_atomic,
)
from core.errors import ArtifactNotFoundError
from shared_schemas.layout import LIVE_POINTER


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
            if p.is_dir() and not p.name.startswith(".") and VERSION_NAME.match(p.name)
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
        names = dir_files(Path(folder))

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


def read_live_version(indexes_dir: Path) -> str | None:
    """The version named by ``indexes/LIVE`` on the local disk, or None when nothing is live."""
    return LocalArtifactStore(indexes_dir).read_live()
