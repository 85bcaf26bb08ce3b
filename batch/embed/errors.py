"""Errors of the embedding step."""

from __future__ import annotations

from batch.errors import BatchError


class EmbedError(BatchError, RuntimeError):
    """The embed job cannot run (no snapshot, a store written by another model, a Spark failure)."""
