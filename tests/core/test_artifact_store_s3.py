"""The S3 artifact store against a real SeaweedFS S3 server: the port's suite and S3's own rules."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.artifacts import open_artifact_store
from core.artifacts.s3 import ArtifactStoreError, S3ArtifactStore
from core.errors import ArtifactNotFoundError
from shared_schemas.config import CommonSettings, S3ArtifactStoreConfig
from tests.core.artifact_store_suite import FILES, ArtifactStoreContract
from tests.seaweedfs import SeaweedS3, start_seaweedfs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


def _config(server: SeaweedS3, **overrides: Any) -> S3ArtifactStoreConfig:
    fields: dict[str, Any] = {
        "bucket": server.bucket,
        "prefix": f"t-{secrets.token_hex(4)}/indexes",  # a fresh, empty store per test
        "endpoint_url": server.endpoint_url,
        "access_key_id": SecretStr(server.access_key),
        "secret_access_key": SecretStr(server.secret_key),
        "multipart_threshold_mb": 5,
    }
    fields.update(overrides)
    return S3ArtifactStoreConfig(**fields)


class TestS3ArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, seaweed: SeaweedS3) -> S3ArtifactStore:
        return S3ArtifactStore(_config(seaweed))

    def test_settings_choose_the_s3_store(
        self, seaweed: SeaweedS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("TANDEM_ARTIFACTS_URL", f"s3://{seaweed.bucket}/env/indexes")
        monkeypatch.setenv("TANDEM_S3_ENDPOINT_URL", seaweed.endpoint_url)
        monkeypatch.setenv("TANDEM_S3_ACCESS_KEY_ID", seaweed.access_key)
        monkeypatch.setenv("TANDEM_S3_SECRET_ACCESS_KEY", seaweed.secret_key)
        config = CommonSettings().artifact_store_config()
        assert config.backend == "s3"
        assert seaweed.secret_key not in repr(config)  # credentials are SecretStr
        store = open_artifact_store(config)
        assert isinstance(store, S3ArtifactStore)
        store.write_version("20240101-aaaaaaaa", FILES)
        assert S3ArtifactStore(_config(seaweed, prefix="env/indexes")).list_versions() == [
            "20240101-aaaaaaaa"
        ]

    def test_unfinished_upload_is_not_a_version(self, store: S3ArtifactStore) -> None:
        # a writer that died after uploading files but before the completion record
        store._put(store._data_key("20240101-aaaaaaaa", "deadbeef", "index.faiss"), b"x", "t")
        assert store.list_versions() == []
        assert not store.has_version("20240101-aaaaaaaa")
        with pytest.raises(ArtifactNotFoundError):
            store.write_live("20240101-aaaaaaaa")

    def test_rewrite_leaves_no_objects_of_the_old_write(self, store: S3ArtifactStore) -> None:
        store.write_version("20240101-aaaaaaaa", FILES)
        store.write_version("20240101-aaaaaaaa", {"only.txt": b"new"})
        keys = list(store._keys(f"{store._base}data/"))
        assert len(keys) == 1
        assert keys[0].endswith("/only.txt")
        store.delete_version("20240101-aaaaaaaa")
        assert list(store._keys(store._base)) == []  # nothing left in the bucket

    def test_live_pointer_is_one_object(self, store: S3ArtifactStore) -> None:
        store.write_version("20240101-aaaaaaaa", FILES)
        store.write_live("20240101-aaaaaaaa")
        assert store._get(f"{store._base}LIVE", "LIVE") == b"20240101-aaaaaaaa\n"

    def test_big_files_go_multipart(self, store: S3ArtifactStore, tmp_path: Path) -> None:
        src = tmp_path / "v"
        src.mkdir()
        big = secrets.token_bytes(12 * 1024 * 1024)  # over the 5 MiB threshold: 3 parts
        (src / "index.faiss").write_bytes(big)
        store.write_version_dir("20240101-aaaaaaaa", src)
        key = store._file_key("20240101-aaaaaaaa", "index.faiss")
        head = store._client.head_object(Bucket=store.bucket, Key=key)
        assert head["ETag"].strip('"').endswith("-3")  # a multipart object's ETag counts parts
        dest = tmp_path / "copy.faiss"
        store.download_file("20240101-aaaaaaaa", "index.faiss", dest)
        assert dest.read_bytes() == big

    def test_wrong_credentials_are_refused(self, seaweed: SeaweedS3) -> None:
        bad = S3ArtifactStore(_config(seaweed, secret_access_key=SecretStr("wrong")))
        with pytest.raises(ArtifactStoreError, match="S3 refused"):
            bad.list_versions()
