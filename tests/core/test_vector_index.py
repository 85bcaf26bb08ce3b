"""The in-memory and the FAISS (+BM25, on disk) indexes against the VectorIndex suite."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from core.index.loader import load_index
from core.index.memory import InMemoryVectorIndex
from core.index.search import LoadedIndex
from core.index.writer import write_index_version
from tests.core.vector_index_suite import VectorIndexContract, corpus

pytestmark = pytest.mark.unit


class TestInMemoryVectorIndex(VectorIndexContract):
    @pytest.fixture
    def index(self) -> InMemoryVectorIndex:
        hits, vectors = corpus()
        return InMemoryVectorIndex(self.VERSION, hits, vectors)


class TestFaissIndex(VectorIndexContract):
    @pytest.fixture(scope="class")
    def index(self, tmp_path_factory: pytest.TempPathFactory) -> LoadedIndex:
        root: Path = tmp_path_factory.mktemp("indexes")
        hits, vectors = corpus()
        cols = ("chunk_id", "doc_id", "title", "text", "content_hash")
        table = pa.table({c: [getattr(h, c) for h in hits] for c in cols})
        manifest = write_index_version(
            table,
            vectors,
            indexes_dir=root,
            embedding_model="tandem/hashing-encoder",
            source_snapshot="test",
            version=self.VERSION,
            run_date=date(2024, 1, 1),
        )
        return load_index(root / manifest.index_version, expected_model="tandem/hashing-encoder")
