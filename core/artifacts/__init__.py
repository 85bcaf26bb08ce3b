"""The artifact-store port: index version directories and the live pointer.

An :class:`ArtifactStore` holds one folder of files per index version plus a ``LIVE`` pointer
naming the version in service. :class:`LocalArtifactStore` is the default (a directory on the
local disk, ``TANDEM_DATA_DIR/indexes``); :class:`InMemoryArtifactStore` serves unit tests. The
conformance suite every adapter passes is ``tests/core/artifact_store_suite.py``;
:class:`core.artifacts.s3.S3ArtifactStore` keeps versions in an S3-compatible bucket.
:func:`open_artifact_store` builds the one the settings choose.

Writes are atomic from a reader's view: a version appears whole (staged, then renamed) and the
pointer moves in one step (temp file + ``os.replace``).
"""

from __future__ import annotations

from core.artifacts.factory import open_artifact_store
from core.artifacts.local import LocalArtifactStore, read_live_version
from core.artifacts.memory import InMemoryArtifactStore
from core.artifacts.port import (
    PUBLISHED_DIR,
    ArtifactStore,
    check_file_name,
    check_version_name,
    write_text_atomic,
)

__all__ = [
    "PUBLISHED_DIR",
    "ArtifactStore",
    "InMemoryArtifactStore",
    "LocalArtifactStore",
    "check_file_name",
    "check_version_name",
    "open_artifact_store",
    "read_live_version",
    "write_text_atomic",
]
