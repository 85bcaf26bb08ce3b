"""The index lifecycle port: the same publish, rollback and retention assertions against the
local lifecycle and the mirrored one (local + a bucket, here the in-memory artifact store; the
S3 tests run it over SeaweedFS)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from batch.index.lifecycle import (
    IndexLifecycle,
    LocalIndexLifecycle,
    MirroredIndexLifecycle,
    open_lifecycle,
)
from batch.index.publish import list_versions, publish_version, rollback_version
from batch.settings import BatchSettings
from core.artifacts import InMemoryArtifactStore
from core.index import read_live_version
from core.index.trust import check_published
from core.index.writer import write_index_version


class _Redis:
    def set(self, key: str, value: Any) -> None:
        pass

    def publish(self, channel: str, message: str) -> None:
        pass


def _build(settings: BatchSettings, rows: int, day: int) -> str:
    rng = np.random.default_rng(day)
    table = pa.table(
        {
            "chunk_id": [f"c{day}-{i}" for i in range(rows)],
            "doc_id": [f"d{i}" for i in range(rows)],
            "title": ["t"] * rows,
            "text": [f"text {day} {i}" for i in range(rows)],
            "content_hash": [f"h{day}-{i}" for i in range(rows)],
        }
    )
    return write_index_version(
        table,
        rng.standard_normal((rows, 8)).astype("float32"),
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot=f"2024-01-{day:02d}",
        run_date=date(2024, 1, day),
    ).index_version


@pytest.fixture
def settings(tmp_path: Path) -> BatchSettings:
    return BatchSettings(data_dir=tmp_path / "var", keep_versions=2)


@pytest.fixture(params=["local", "mirrored"])
def lifecycle(request: pytest.FixtureRequest, settings: BatchSettings) -> IndexLifecycle:
    local = LocalIndexLifecycle(settings.indexes_dir)
    if request.param == "local":
        return local
    return MirroredIndexLifecycle(local, InMemoryArtifactStore())


def _bucket_live(lifecycle: IndexLifecycle, expected: str) -> None:
    if isinstance(lifecycle, MirroredIndexLifecycle):
        assert lifecycle.bucket.read_live() == expected


def test_publish_rollback_and_retention(settings: BatchSettings, lifecycle: IndexLifecycle) -> None:
    v1, v2 = _build(settings, 5, day=1), _build(settings, 6, day=2)
    kw: dict[str, Any] = {"settings": settings, "redis_client": _Redis(), "lifecycle": lifecycle}

    out = publish_version(v1, **kw)
    assert out.previous is None
    assert lifecycle.live() == read_live_version(settings.indexes_dir) == v1
    assert [(h.action, h.version, h.previous) for h in lifecycle.history()] == [
        ("publish", v1, None)
    ]
    check_published(settings.indexes_dir, v1)
    _bucket_live(lifecycle, v1)

    out = publish_version(v2, **kw)
    assert (out.previous, lifecycle.live()) == (v1, v2)
    _bucket_live(lifecycle, v2)

    out = rollback_version(**kw)
    assert (out.previous, lifecycle.live()) == (v2, v1)
    assert lifecycle.history()[-1].action == "rollback"
    _bucket_live(lifecycle, v1)

    v3, v4 = _build(settings, 7, day=3), _build(settings, 8, day=4)
    out = publish_version(v4, **kw)  # the 2 newest, live and previous stay; v2 goes
    assert (out.previous, out.removed) == (v1, (v2,))
    assert {i.version for i in list_versions(settings=settings)} == {v1, v3, v4}
    assert not (settings.indexes_dir / v2).exists()
    if isinstance(lifecycle, MirroredIndexLifecycle):
        assert lifecycle.bucket.list_versions() == sorted([v1, v4])  # v3 was never uploaded
        assert lifecycle.bucket.read_published(v4) is not None
    _bucket_live(lifecycle, v4)


def test_republishing_the_live_version_moves_nothing(
    settings: BatchSettings, lifecycle: IndexLifecycle
) -> None:
    v1 = _build(settings, 5, day=1)
    publish_version(v1, settings=settings, redis_client=_Redis(), lifecycle=lifecycle)
    publish_version(v1, settings=settings, redis_client=_Redis(), lifecycle=lifecycle)
    assert len(lifecycle.history()) == 1
    _bucket_live(lifecycle, v1)


def test_open_lifecycle_is_local_without_a_bucket(settings: BatchSettings) -> None:
    assert isinstance(open_lifecycle(settings), LocalIndexLifecycle)
