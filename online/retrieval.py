"""Load, verify and search a published index version (FAISS dense + bm25s lexical).

Interface fixed in docs/ARCHITECTURE.md; implementation in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared_schemas.manifest import IndexManifest


class IndexLoadError(Exception):
    """An index version could not be loaded or did not verify."""


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    doc_id: str
    title: str
    text: str
    content_hash: str
    score: float


class LoadedIndex:
    manifest: IndexManifest

    def search(
        self, query_vec: np.ndarray, query_text: str, k: int, *, lexical: bool = True
    ) -> list[Hit]:
        raise NotImplementedError


def load_index(
    version_dir: Path, *, expected_model: str | None = None, verify: bool = True
) -> LoadedIndex:
    raise NotImplementedError


def read_live_version(indexes_dir: Path) -> str | None:
    raise NotImplementedError
