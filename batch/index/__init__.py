"""Versioned FAISS + BM25 indexes: build, evaluate-and-gate, publish and roll back."""


class IndexBuildError(RuntimeError):
    """An index version could not be built from its snapshot and embeddings."""


class PublishError(RuntimeError):
    """A version could not be published, rolled back or listed."""
