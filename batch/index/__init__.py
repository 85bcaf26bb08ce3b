"""Versioned FAISS + BM25 indexes: build, evaluate-and-gate, publish and roll back."""

from core.errors import IndexBuildError


class PublishError(RuntimeError):
    """A version could not be published, rolled back or listed."""


__all__ = ["IndexBuildError", "PublishError"]
