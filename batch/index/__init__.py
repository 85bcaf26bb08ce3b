"""Versioned FAISS + BM25 indexes: build, evaluate-and-gate, publish and roll back."""

from batch.errors import BatchError
from core.errors import IndexBuildError


class PublishError(BatchError, RuntimeError):
    """A version could not be published, rolled back or listed."""


__all__ = ["IndexBuildError", "PublishError"]
