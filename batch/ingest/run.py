"""``ingest``: one source in, one dated snapshot out (documents, chunks, report)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from batch.ingest.chunking import Chunker, load_tokenizer
from batch.ingest.report import (
    SKIP_DUPLICATE_ID,
    SKIP_EMPTY,
    SKIP_INVALID_RECORD,
    IngestReport,
)
from batch.ingest.snapshot import write_snapshot
from batch.ingest.sources import RawRecord, Skipped, detect_kind, read_source
from batch.settings import BatchSettings
from shared_schemas import Chunk, Document
from shared_schemas.hashing import normalize_text

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


def ingest(
    source: Path,
    *,
    run_date: date,
    settings: BatchSettings,
    progress: Progress | None = None,
) -> IngestReport:
    """Read ``source``, normalise and chunk its documents, write ``snapshots/<run_date>/``.

    Bad documents are skipped and counted in the report; a malformed source file raises
    :class:`~batch.ingest.errors.IngestError` naming the file and line. ``progress`` is called
    with the number of records handled since the previous call.
    """
    kind = detect_kind(source)
    report = IngestReport(
        run_date=run_date,
        source=source.name,
        source_kind=kind,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
    )
    chunker = Chunker(
        load_tokenizer(settings.embedding_model_path),
        size=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
    )
    log.info("ingest start source=%s kind=%s date=%s", source, kind, run_date)
    documents: list[Document] = []
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    for item in read_source(source, kind, max_doc_bytes=settings.max_doc_bytes):
        report.documents_read += 1
        if progress is not None:
            progress(1)
        if isinstance(item, Skipped):
            report.skip(item.reason, item.where)
            continue
        if item.doc_id in seen_ids:
            report.skip(SKIP_DUPLICATE_ID, item.where)
            continue
        doc = _to_document(item, source_label=f"{kind}:{source.name}", report=report)
        if doc is None:
            continue
        doc_chunks = chunker.chunk(doc)
        if not doc_chunks:
            report.skip(SKIP_EMPTY, item.where)
            continue
        seen_ids.add(doc.doc_id)
        documents.append(doc)
        chunks.extend(doc_chunks)
    report.documents_written = len(documents)
    report.chunks_written = len(chunks)
    path = write_snapshot(
        settings.snapshots_dir, run_date, documents=documents, chunks=chunks, report=report
    )
    report.snapshot_path = path
    if report.skipped:
        log.warning("ingest skipped documents counts=%s", report.skipped)
    log.info(
        "ingest done documents=%d chunks=%d skipped=%d",
        report.documents_written,
        report.chunks_written,
        report.skipped_total,
    )
    return report


def _to_document(item: RawRecord, *, source_label: str, report: IngestReport) -> Document | None:
    text = normalize_text(item.text)
    if not text:
        report.skip(SKIP_EMPTY, item.where)
        return None
    try:
        return Document(
            doc_id=item.doc_id,
            title=normalize_text(item.title),
            text=text,
            url=item.url,
            source=source_label,
            metadata=item.metadata,
        )
    except ValidationError:
        report.skip(SKIP_INVALID_RECORD, item.where)
        return None
