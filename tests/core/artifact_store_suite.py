"""Conformance suite of the ArtifactStore port: every adapter's tests subclass it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.artifacts import ArtifactStore
from core.errors import ArtifactNotFoundError

FILES = {"manifest.json": b"{}", "index.faiss": b"\x00\x01", "bm25/tokenizer.json": b"[]"}


class ArtifactStoreContract:
    """Subclasses provide a fixture ``store`` giving an empty adapter."""

    def test_is_an_artifact_store(self, store: ArtifactStore) -> None:
        assert isinstance(store, ArtifactStore)

    def test_empty_store(self, store: ArtifactStore) -> None:
        assert store.list_versions() == []
        assert store.read_live() is None
        assert not store.has_version("20240101-aaaaaaaa")

    def test_version_round_trip(self, store: ArtifactStore) -> None:
        store.write_version("20240101-aaaaaaaa", FILES)
        assert store.list_versions() == ["20240101-aaaaaaaa"]
        assert store.has_version("20240101-aaaaaaaa")
        assert store.list_files("20240101-aaaaaaaa") == sorted(FILES)
        for name, data in FILES.items():
            assert store.read_file("20240101-aaaaaaaa", name) == data

    def test_versions_sorted_and_replaced_whole(self, store: ArtifactStore) -> None:
        store.write_version("20240102-bbbbbbbb", FILES)
        store.write_version("20240101-aaaaaaaa", FILES)
        store.write_version("20240102-bbbbbbbb", {"only.txt": b"new"})
        assert store.list_versions() == ["20240101-aaaaaaaa", "20240102-bbbbbbbb"]
        assert store.list_files("20240102-bbbbbbbb") == ["only.txt"]

    def test_missing_things_raise_not_found(self, store: ArtifactStore) -> None:
        with pytest.raises(ArtifactNotFoundError):
            store.read_file("20240101-aaaaaaaa", "manifest.json")
        store.write_version("20240101-aaaaaaaa", FILES)
        with pytest.raises(ArtifactNotFoundError):
            store.read_file("20240101-aaaaaaaa", "absent.bin")
        with pytest.raises(ArtifactNotFoundError):
            store.list_files("20240109-cccccccc")

    def test_live_pointer_only_names_stored_versions(self, store: ArtifactStore) -> None:
        with pytest.raises(ArtifactNotFoundError):
            store.write_live("20240101-aaaaaaaa")
        assert store.read_live() is None
        store.write_version("20240101-aaaaaaaa", FILES)
        store.write_version("20240102-bbbbbbbb", FILES)
        store.write_live("20240101-aaaaaaaa")
        assert store.read_live() == "20240101-aaaaaaaa"
        store.write_live("20240102-bbbbbbbb")
        assert store.read_live() == "20240102-bbbbbbbb"

    @pytest.mark.parametrize("bad", ["../etc", "a/b", ".hidden", "", "x" * 200])
    def test_unsafe_version_names_are_refused(self, store: ArtifactStore, bad: str) -> None:
        with pytest.raises(ValueError, match="invalid index version name"):
            store.write_version(bad, FILES)

    @pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../b", "a//b"])
    def test_unsafe_file_names_are_refused(self, store: ArtifactStore, bad: str) -> None:
        with pytest.raises(ValueError, match="invalid artifact file name"):
            store.write_version("20240101-aaaaaaaa", {bad: b"x"})
        assert not store.has_version("20240101-aaaaaaaa")  # nothing half-written

    def test_version_dir_round_trip(self, store: ArtifactStore, tmp_path: Path) -> None:
        src = tmp_path / "src"
        for name, data in FILES.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(data)
        store.write_version_dir("20240101-aaaaaaaa", src)
        assert store.list_files("20240101-aaaaaaaa") == sorted(FILES)
        dest = tmp_path / "dest" / "bm25" / "tokenizer.json"
        store.download_file("20240101-aaaaaaaa", "bm25/tokenizer.json", dest)
        assert dest.read_bytes() == b"[]"
        with pytest.raises(ArtifactNotFoundError):
            store.download_file("20240101-aaaaaaaa", "absent.bin", tmp_path / "x")

    def test_delete_version(self, store: ArtifactStore) -> None:
        store.write_version("20240101-aaaaaaaa", FILES)
        store.write_version("20240102-bbbbbbbb", FILES)
        store.delete_version("20240101-aaaaaaaa")
        store.delete_version("20240109-cccccccc")  # absent: ignored
        assert store.list_versions() == ["20240102-bbbbbbbb"]
        assert not store.has_version("20240101-aaaaaaaa")
        with pytest.raises(ArtifactNotFoundError):
            store.read_file("20240101-aaaaaaaa", "manifest.json")
        assert store.read_file("20240102-bbbbbbbb", "index.faiss") == FILES["index.faiss"]

    def test_publish_records(self, store: ArtifactStore) -> None:
        assert store.read_published("20240101-aaaaaaaa") is None
        store.write_version("20240101-aaaaaaaa", FILES)
        assert store.read_published("20240101-aaaaaaaa") is None  # stored is not published
        store.write_published("20240101-aaaaaaaa", "ab" * 32)
        assert store.read_published("20240101-aaaaaaaa") == "ab" * 32
        assert store.list_versions() == ["20240101-aaaaaaaa"]  # a record is no version
        with pytest.raises(ValueError, match="invalid index version name"):
            store.write_published("../x", "ab" * 32)
