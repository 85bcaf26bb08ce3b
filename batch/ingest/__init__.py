"""Ingest: read a source (folder, JSONL, SQuAD JSON), normalise, chunk, write a dated snapshot."""

from batch.ingest.errors import IngestError
from batch.ingest.report import IngestReport

__all__ = ["IngestError", "IngestReport"]
