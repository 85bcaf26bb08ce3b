"""Build the index version of a snapshot date: its chunks, their stored vectors, the writer.

The version directory itself is written by :func:`core.index.writer.write_index_version`; this
module finds a date's chunks and embeddings and calls it with the batch settings.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np

from batch.index import IndexBuildError
from batch.settings import BatchSettings
from core.index.version import IndexVersion
from core.index.writer import chunk_set_digest, existing_version, write_index_version
from shared_schemas.manifest import IndexManifest

log = logging.getLogger(__name__)


def load_vectors(chunk_ids: list[str], *, settings: BatchSettings) -> np.ndarray:
    """Vectors for exactly ``chunk_ids`` (in that order) from the embedding store."""
    from batch.embed.errors import EmbedError
    from batch.embed.store import EmbeddingStore

    try:
        ids, matrix = EmbeddingStore(settings=settings).load(chunk_ids)
    except EmbedError as exc:
        raise IndexBuildError(str(exc)) from exc
    return _align(chunk_ids, ids, matrix)


def _align(wanted: list[str], ids: list[str], matrix: np.ndarray) -> np.ndarray:
    pos = {cid: i for i, cid in enumerate(ids)}
    missing = [c for c in wanted if c not in pos]
    if missing:
        raise IndexBuildError(
            f"{len(missing)} chunks have no stored embedding (e.g. {missing[0]}); "
            "run `tandem embed` for this date first"
        )
    return matrix[[pos[c] for c in wanted]]


def build_index(run_date: date, *, settings: BatchSettings) -> IndexManifest:
    """Build (or return the existing) version for a snapshot date."""
    import pyarrow.parquet as pq

    snap = settings.snapshots_dir / run_date.isoformat() / "chunks.parquet"
    if not snap.is_file():
        raise IndexBuildError(f"no chunk snapshot at {snap}; run `tandem ingest` for {run_date}")
    chunks = pq.read_table(snap)
    chunk_ids = [str(v) for v in chunks.column("chunk_id").to_pylist()]
    digest = chunk_set_digest(chunk_ids)
    final = settings.indexes_dir / IndexVersion.of(run_date, digest).name
    existing = existing_version(final, digest)
    if existing is not None:
        return existing
    vectors = load_vectors(chunk_ids, settings=settings)
    return write_index_version(
        chunks,
        vectors,
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        exact_max=settings.exact_index_max,
        factory=settings.faiss_factory,
        source_snapshot=run_date.isoformat(),
        run_date=run_date,
    )
