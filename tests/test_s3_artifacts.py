"""Publish into a real SeaweedFS bucket and serve from it: a replica with no local ``indexes/``
downloads each live version into its cache, verified, and refuses partial or corrupt copies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from batch.index import PublishError
from batch.index.publish import publish_version, rollback_version
from batch.settings import BatchSettings
from core.artifacts import open_artifact_store
from core.artifacts.s3 import S3ArtifactStore
from core.index.trust import manifest_digest
from core.index.writer import write_index_version
from online.index_state import IndexHolder
from online.reload import IndexReloader
from online.settings import OnlineSettings
from shared_schemas.documents import Chunk
from shared_schemas.layout import FAISS_FILE, LIVE_MANIFEST_KEY
from tests.conftest import TEST_REDIS_URL
from tests.seaweedfs import SeaweedS3, start_seaweedfs

pytestmark = pytest.mark.integration

COLS = ["chunk_id", "doc_id", "title", "text", "content_hash"]


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_env(seaweed: SeaweedS3, tmp_path: Path) -> dict[str, Any]:
    return {
        "artifacts_url": f"s3://{seaweed.bucket}/{tmp_path.name}/indexes",
        "s3_endpoint_url": seaweed.endpoint_url,
        "s3_access_key_id": seaweed.access_key,
        "s3_secret_access_key": seaweed.secret_key,
        "redis_url": TEST_REDIS_URL,
    }


def _build(settings: BatchSettings, day: int, rows: int) -> str:
    chunks = [
        Chunk(doc_id=f"d{i}", ordinal=0, title=f"T{i}", text=f"text {i} of day {day}")
        for i in range(rows)
    ]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in COLS})
    vectors = np.random.default_rng(day).standard_normal((rows, 384)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return write_index_version(
        table,
        vectors,
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot=f"2024-01-{day:02d}",
        run_date=date(2024, 1, day),
    ).index_version


def test_replica_serves_what_publish_put_in_the_bucket(
    s3_env: dict[str, Any], tmp_path: Path, redis_client: Any
) -> None:
    batch = BatchSettings(data_dir=tmp_path / "batch", keep_versions=2, **s3_env)
    online = OnlineSettings(data_dir=tmp_path / "replica", **s3_env)
    bucket = open_artifact_store(batch.artifact_store_config())
    assert isinstance(bucket, S3ArtifactStore)
    v1, v2, v3 = (_build(batch, day, rows) for day, rows in ((1, 20), (2, 30), (3, 40)))
    holder = IndexHolder()
    reloader = IndexReloader(
        settings=online,
        holder=holder,
        redis=None,
        artifacts=open_artifact_store(online.artifact_store_config()),
    )

    def reload() -> Any:
        return asyncio.run(reloader.reload())

    assert reload().error == "no live version is published"
    publish_version(v1, settings=batch, redis_client=redis_client)
    assert bucket.list_versions() == [v1]
    assert bucket.read_live() == v1
    assert reload().swapped
    assert holder.require().version == v1
    assert holder.require().index.manifest.vector_count == 20
    assert not (online.indexes_dir).exists()  # served from the cache, not a local indexes/
    assert (online.index_cache_dir / v1 / FAISS_FILE).is_file()

    publish_version(v2, settings=batch, redis_client=redis_client)
    assert redis_client.get(LIVE_MANIFEST_KEY) is not None
    assert reload().swapped
    assert holder.require().version == v2

    # a corrupt copy in the bucket (same manifest, other bytes) is refused; v2 keeps serving
    local = batch.indexes_dir / v3
    corrupt = {
        p.relative_to(local).as_posix(): p.read_bytes() for p in local.rglob("*") if p.is_file()
    }
    corrupt[FAISS_FILE] = corrupt[FAISS_FILE][:-8] + b"\x00" * 8
    bucket.write_version(v3, corrupt)
    bucket.write_published(v3, manifest_digest(local))  # even vouched for, the bytes are checked
    bucket.write_live(v3)
    outcome = reload()
    assert not outcome.swapped
    assert "sha256" in (outcome.error or "")
    assert holder.require().version == v2
    assert not (online.index_cache_dir / v3).exists()
    assert list((online.index_cache_dir / ".staging").iterdir()) == []

    # publish notices the bad copy, uploads the version again, and the replica takes it
    publish_version(v3, settings=batch, redis_client=redis_client)
    assert asyncio.run(reloader.reload(force=True)).swapped
    assert holder.require().version == v3
    assert sorted(p.name for p in online.index_cache_dir.iterdir() if p.name[0] != ".") == [
        v2,
        v3,
    ]  # older cached copies are pruned
    # retention (keep 2) removed v1 from the local disk and from the bucket
    assert bucket.list_versions() == [v2, v3]

    rollback_version(settings=batch, redis_client=redis_client)
    assert bucket.read_live() == v2
    assert reload().swapped
    assert holder.require().version == v2


def test_partial_download_is_refused(
    s3_env: dict[str, Any], tmp_path: Path, redis_client: Any
) -> None:
    batch = BatchSettings(data_dir=tmp_path / "batch", **s3_env)
    online = OnlineSettings(data_dir=tmp_path / "replica", **s3_env)
    bucket = open_artifact_store(batch.artifact_store_config())
    assert isinstance(bucket, S3ArtifactStore)
    v1, v2 = _build(batch, 1, 20), _build(batch, 2, 25)
    publish_version(v1, settings=batch, redis_client=redis_client)
    holder = IndexHolder()
    reloader = IndexReloader(settings=online, holder=holder, redis=None, artifacts=bucket)
    assert asyncio.run(reloader.reload()).swapped
    publish_version(v2, settings=batch, redis_client=redis_client)
    # an object of v2 vanishes after publish (a half-finished delete, a lifecycle rule, ...)
    bucket._client.delete_object(Bucket=bucket.bucket, Key=bucket._file_key(v2, FAISS_FILE))
    outcome = asyncio.run(reloader.reload())
    assert not outcome.swapped
    assert "download failed" in (outcome.error or "")
    assert holder.require().version == v1
    assert not (online.index_cache_dir / v2).exists()
    # rolling back to a version gone from the bucket is refused before any pointer moves
    bucket.delete_version(v1)
    with pytest.raises(PublishError, match="not usable"):
        rollback_version(settings=batch, redis_client=redis_client)
    assert bucket.read_live() == v2


def test_replica_serves_only_versions_whose_publish_record_names_their_manifest(
    s3_env: dict[str, Any], tmp_path: Path, redis_client: Any
) -> None:
    batch = BatchSettings(data_dir=tmp_path / "batch", **s3_env)
    online = OnlineSettings(data_dir=tmp_path / "replica", **s3_env)
    bucket = open_artifact_store(batch.artifact_store_config())
    v1, v2 = _build(batch, 1, 20), _build(batch, 2, 25)
    publish_version(v1, settings=batch, redis_client=redis_client)
    assert bucket.read_published(v1) == manifest_digest(batch.indexes_dir / v1)  # mirrored
    # v2 written into the bucket without publish (a copy, an aborted run): never served
    bucket.write_version_dir(v2, batch.indexes_dir / v2)
    holder = IndexHolder()
    reloader = IndexReloader(settings=online, holder=holder, redis=None, artifacts=bucket)
    assert asyncio.run(reloader.reload()).swapped
    outcome = asyncio.run(reloader.reload(v2))
    assert not outcome.swapped
    assert "not published" in (outcome.error or "")
    assert holder.require().version == v1
    assert not (online.index_cache_dir / v2).exists()
    # a record naming another manifest does not vouch for this one
    bucket.write_published(v2, "0" * 64)
    assert "does not match its publish record" in (asyncio.run(reloader.reload(v2)).error or "")
    publish_version(v2, settings=batch, redis_client=redis_client)  # the record is mirrored
    assert asyncio.run(reloader.reload(force=True)).swapped  # force: it failed before
    assert holder.require().version == v2
