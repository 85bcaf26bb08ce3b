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

    def test_a_published_version_is_readable_by_other_users(
        self, store: LocalArtifactStore, tmp_path: Path
    ) -> None:
        """The stack's online containers (another uid) read what the batch side published: a
        private staging folder (mkdtemp's 0700) made every model fetch fail there."""
        import stat

        store.write_version("20240101-aaaaaaaa", FILES)
        src = tmp_path / "src"
        src.mkdir()
        (src / "model.gguf").write_bytes(b"gguf")
        store.write_version_dir("20240101-bbbbbbbb", src)
        for version in ("20240101-aaaaaaaa", "20240101-bbbbbbbb"):
            mode = stat.S_IMODE(store.path_of(version).stat().st_mode)
            assert mode & 0o055 == 0o055, oct(mode)
