"""The on-disk format of an index version directory: file names, id-map columns, checksums.

A version directory (``indexes/<version>/``) holds ``manifest.json``, ``index.faiss``,
``ids.parquet`` (row i of the FAISS index <-> row i here) and optionally ``bm25/`` with the
lexical config in ``bm25/tokenizer.json``. The writer (``batch.index.build``) and the reader
(:mod:`core.index.loader`) both take these names from here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import IndexLoadError
from shared_schemas.base import SchemaError, SchemaVersionError
from shared_schemas.layout import BM25_DIR, FAISS_FILE, IDMAP_FILE, MANIFEST_FILE
from shared_schemas.manifest import IndexManifest

__all__ = [
    "BM25_DIR",
    "FAISS_FILE",
    "IDMAP_COLUMNS",
    "IDMAP_FILE",
    "LEXICAL_CONFIG_FILE",
    "MANIFEST_FILE",
    "read_manifest",
    "sha256_file",
    "verify_artifacts",
]

IDMAP_COLUMNS = ("chunk_id", "doc_id", "title", "text", "content_hash")
LEXICAL_CONFIG_FILE = "tokenizer.json"  # inside bm25/: how the lexical side was tokenized


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(version_dir: Path) -> IndexManifest:
    """The manifest of a version directory; IndexLoadError when missing or unreadable."""
    path = version_dir / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IndexLoadError(f"{path}: cannot read manifest ({exc})") from exc
    try:
        return IndexManifest.parse(raw)
    except SchemaVersionError as exc:
        raise IndexLoadError(f"{path}: {exc}") from exc
    except SchemaError as exc:
        raise IndexLoadError(f"{path}: invalid manifest: {exc}") from exc


def verify_artifacts(version_dir: Path, manifest: IndexManifest) -> None:
    """Check every artifact's size and sha256 against the manifest."""
    names = {a.path for a in manifest.artifacts}
    for required in (FAISS_FILE, IDMAP_FILE):
        if required not in names:
            raise IndexLoadError(f"{version_dir}: manifest lists no {required}")
    for art in manifest.artifacts:
        path = version_dir / art.path
        if not path.is_file():
            raise IndexLoadError(f"{version_dir}: artifact {art.path} is missing")
        size = path.stat().st_size
        if size != art.bytes:
            raise IndexLoadError(
                f"{version_dir}: artifact {art.path} has {size} bytes, manifest says {art.bytes}"
            )
        digest = sha256_file(path)
        if digest != art.sha256:
            raise IndexLoadError(
                f"{version_dir}: artifact {art.path} sha256 {digest} does not match the manifest"
            )
