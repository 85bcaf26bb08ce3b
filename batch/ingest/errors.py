"""Errors of the ingest step."""

from __future__ import annotations

from batch.errors import BatchError


class IngestError(BatchError, RuntimeError):
    """A source cannot be read as a whole (unknown kind, malformed file); names file and line."""
