"""The artifact store the settings choose."""

from __future__ import annotations

from core.artifacts.local import LocalArtifactStore
from core.artifacts.port import ArtifactStore
from shared_schemas.config import LocalArtifactStoreConfig, S3ArtifactStoreConfig


def open_artifact_store(config: LocalArtifactStoreConfig | S3ArtifactStoreConfig) -> ArtifactStore:
    """The adapter ``config`` chooses; the S3 client library is imported only for S3."""
    if config.backend == "s3":
        from core.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(config)
    return LocalArtifactStore(config.root)
