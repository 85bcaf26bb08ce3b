"""Load and verify a version directory into a searchable :class:`LoadedIndex`.

:func:`load_index` checks the manifest's schema version, the sha256 of every artifact, the
embedding model and the dimension before anything is served.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import IndexLoadError
from core.index.format import IDMAP_COLUMNS, LEXICAL_CONFIG_FILE, read_manifest, verify_artifacts
from core.index.lexical import LexicalConfig, Tokenizer
from core.index.search import DEFAULT_FUSION, FusionParams, LoadedIndex
from shared_schemas.layout import BM25_DIR, FAISS_FILE, IDMAP_FILE

if TYPE_CHECKING:
    import bm25s

log = logging.getLogger(__name__)


def _read_ids(path: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(IDMAP_COLUMNS))
    except (OSError, ValueError, KeyError) as exc:
        raise IndexLoadError(f"{path}: cannot read id map ({exc})") from exc
    return {c: [str(v) for v in table.column(c).to_pylist()] for c in IDMAP_COLUMNS}


def _load_bm25(bm25_dir: Path) -> tuple[bm25s.BM25, Tokenizer]:
    import bm25s

    cfg_path = bm25_dir / LEXICAL_CONFIG_FILE
    try:
        config = LexicalConfig.from_json(cfg_path.read_text("utf-8"))
        model = bm25s.BM25.load(str(bm25_dir), show_progress=False, verbosity=0)
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{bm25_dir}: cannot load lexical index ({exc})") from exc
    return model, Tokenizer(config)


def load_index(
    version_dir: Path,
    *,
    expected_model: str | None = None,
    verify: bool = True,
    expected_dimension: int | None = None,
    fusion: FusionParams = DEFAULT_FUSION,
) -> LoadedIndex:
    """Load one version directory, refusing it unless it verifies against its manifest."""
    import faiss

    version_dir = Path(version_dir)
    manifest = read_manifest(version_dir)
    if expected_model is not None and manifest.embedding_model != expected_model:
        raise IndexLoadError(
            f"{version_dir}: index was built with embedding model {manifest.embedding_model!r}, "
            f"this process embeds with {expected_model!r}"
        )
    if expected_dimension is not None and manifest.dimension != expected_dimension:
        raise IndexLoadError(
            f"{version_dir}: index dimension {manifest.dimension}, encoder gives "
            f"{expected_dimension}"
        )
    if verify:
        verify_artifacts(version_dir, manifest)
    try:
        index = faiss.read_index(str(version_dir / FAISS_FILE))
    except RuntimeError as exc:
        raise IndexLoadError(f"{version_dir}: cannot read FAISS index ({exc})") from exc
    if index.d != manifest.dimension:
        raise IndexLoadError(
            f"{version_dir}: FAISS dimension {index.d}, manifest says {manifest.dimension}"
        )
    if index.ntotal != manifest.vector_count:
        raise IndexLoadError(
            f"{version_dir}: FAISS holds {index.ntotal} vectors, manifest says "
            f"{manifest.vector_count}"
        )
    ids = _read_ids(version_dir / IDMAP_FILE)
    if len(ids["chunk_id"]) != index.ntotal:
        raise IndexLoadError(
            f"{version_dir}: id map has {len(ids['chunk_id'])} rows, FAISS has {index.ntotal}"
        )
    bm25 = tokenizer = None
    if manifest.lexical == "bm25":
        bm25, tokenizer = _load_bm25(version_dir / BM25_DIR)
    log.info(
        "index loaded version=%s vectors=%d lexical=%s",
        manifest.index_version,
        index.ntotal,
        manifest.lexical,
    )
    return LoadedIndex(manifest, index, ids, bm25, tokenizer, fusion=fusion)
