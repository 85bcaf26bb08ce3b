"""Writing a dated snapshot: Parquet files staged in a scratch folder, then renamed into place."""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batch.ingest.report import IngestReport
from shared_schemas import Chunk, Document

log = logging.getLogger(__name__)

DOCUMENTS_FILE = "documents.parquet"
CHUNKS_FILE = "chunks.parquet"
REPORT_FILE = "report.json"
STAGING_DIR = ".staging"

DOCUMENTS_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("doc_id", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("source", pa.string()),
        ("metadata", pa.string()),  # JSON object text (sorted keys)
        ("content_hash", pa.string()),
    ]
)
CHUNKS_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("doc_id", pa.string()),
        ("ordinal", pa.int32()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("content_hash", pa.string()),
        ("n_tokens", pa.int32()),
    ]
)


def snapshot_dir(snapshots_dir: Path, run_date: date) -> Path:
    return snapshots_dir / run_date.isoformat()


def documents_table(docs: Sequence[Document]) -> pa.Table:
    return pa.table(
        {
            "schema_version": [d.schema_version for d in docs],
            "doc_id": [d.doc_id for d in docs],
            "title": [d.title for d in docs],
            "text": [d.text for d in docs],
            "url": [d.url for d in docs],
            "source": [d.source for d in docs],
            "metadata": [json.dumps(d.metadata, sort_keys=True, default=str) for d in docs],
            "content_hash": [d.content_hash for d in docs],
        },
        schema=DOCUMENTS_SCHEMA,
    )


def chunks_table(chunks: Sequence[Chunk]) -> pa.Table:
    return pa.table(
        {name: [getattr(c, name) for c in chunks] for name in CHUNKS_SCHEMA.names},
        schema=CHUNKS_SCHEMA,
    )


def write_snapshot(
    snapshots_dir: Path,
    run_date: date,
    *,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    report: IngestReport,
) -> Path:
    """Write the three files into a staging folder, then swap it in for ``<date>/``."""
    final = snapshot_dir(snapshots_dir, run_date)
    staging_root = snapshots_dir / STAGING_DIR
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = staging_root / f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        pq.write_table(documents_table(documents), staging / DOCUMENTS_FILE)
        pq.write_table(chunks_table(chunks), staging / CHUNKS_FILE)
        final_report = report.model_copy(update={"snapshot_path": final})
        (staging / REPORT_FILE).write_text(final_report.model_dump_json(indent=2) + "\n")
        _swap_into_place(staging, final, staging_root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("snapshot written path=%s documents=%d chunks=%d", final, len(documents), len(chunks))
    return final


def _swap_into_place(staging: Path, final: Path, staging_root: Path) -> None:
    """Rename ``staging`` to ``final``; an older ``final`` is moved aside first, then removed.

    Readers see either the old complete folder or the new one; only between the two renames
    (microseconds) is there none, and a crash there leaves the old one in ``.staging``.
    """
    old: Path | None = None
    if final.exists():
        old = staging_root / f"old-{final.name}-{uuid.uuid4().hex[:8]}"
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_chunks(snapshots_dir: Path, run_date: date, columns: list[str] | None = None) -> pa.Table:
    """The chunks table of a snapshot (all columns unless ``columns`` names some)."""
    return pq.read_table(snapshot_dir(snapshots_dir, run_date) / CHUNKS_FILE, columns=columns)
