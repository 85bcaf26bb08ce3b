"""The artifact store in a dict, for unit tests of logic that reads or publishes versions."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from core.artifacts.port import check_file_name, check_version_name, dir_files
from core.errors import ArtifactNotFoundError


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
        names = dir_files(Path(folder))
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
