"""Small real artifacts for freshness and DAG tests: snapshots and index versions, no models.

Vectors are random unit vectors; the version directories are written by the real
``core.index.writer.write_index_version``, so ``publish`` verifies and accepts them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from batch.settings import BatchSettings
from shared_schemas import Chunk, Document


def write_snapshot(settings: BatchSettings, day: date, docs: dict[str, str]) -> Path:
    """``snapshots/<day>/`` with one chunk per document (the columns the readers use)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    documents = [Document(doc_id=d, title=d, text=t) for d, t in docs.items()]
    chunks = [Chunk(doc_id=d.doc_id, ordinal=0, title=d.title, text=d.text) for d in documents]
    out = settings.snapshots_dir / day.isoformat()
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "doc_id": [d.doc_id for d in documents],
                "title": [d.title for d in documents],
                "text": [d.text for d in documents],
                "content_hash": [d.content_hash for d in documents],
            }
        ),
        out / "documents.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "chunk_id": [c.chunk_id for c in chunks],
                "doc_id": [c.doc_id for c in chunks],
                "ordinal": [c.ordinal for c in chunks],
                "title": [c.title for c in chunks],
                "text": [c.text for c in chunks],
                "content_hash": [c.content_hash for c in chunks],
                "n_tokens": [len(c.text.split()) for c in chunks],
            }
        ),
        out / "chunks.parquet",
    )
    return out


def write_version(settings: BatchSettings, day: date, *, seed: int = 0) -> str:
    """An index version of ``snapshots/<day>/`` with random unit vectors; its name."""
    import pyarrow.parquet as pq

    from core.index.writer import write_index_version

    chunks = pq.read_table(settings.snapshots_dir / day.isoformat() / "chunks.parquet")
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((chunks.num_rows, 384)).astype("float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    manifest = write_index_version(
        chunks,
        vecs,
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot=day.isoformat(),
        run_date=day,
        lexical=False,
    )
    return manifest.index_version
