"""The artifact-store adapters against the port's conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.artifacts import InMemoryArtifactStore, LocalArtifactStore, read_live_version
from tests.core.artifact_store_suite import FILES, ArtifactStoreContract

pytestmark = pytest.mark.unit


class TestInMemoryArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryArtifactStore:
        return InMemoryArtifactStore()


class TestLocalArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore(tmp_path / "indexes")

    def test_layout_is_the_documented_one(self, store: LocalArtifactStore) -> None:
        store.write_version("20240101-aaaaaaaa", FILES)
        store.write_live("20240101-aaaaaaaa")
        root = store.root
        assert (root / "20240101-aaaaaaaa" / "bm25" / "tokenizer.json").read_bytes() == b"[]"
        assert (root / "LIVE").read_text() == "20240101-aaaaaaaa\n"
        assert read_live_version(root) == "20240101-aaaaaaaa"
        assert not any(p.name.endswith(".tmp") for p in root.iterdir())
        assert not list((root / ".staging").iterdir())  # staging emptied after the rename
