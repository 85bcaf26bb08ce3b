"""The append-only vector store (no Spark, no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.embed.errors import EmbedError
from batch.embed.store import EmbeddingStore, model_safe_name
from batch.settings import BatchSettings

DIM = 4


def _table(ids: list[str], seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    vecs = np.random.default_rng(seed).random((len(ids), DIM), dtype=np.float32)
    return pa.table({"chunk_id": ids, "vector": list(vecs)}), vecs


def test_model_safe_name() -> None:
    assert model_safe_name("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers__all-MiniLM-L6-v2"
    )
    assert model_safe_name("a b:c") == "a_b_c"


def test_append_existing_and_load_in_requested_order(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, "org/model")
    assert store.existing_ids() == set()
    t1, v1 = _table(["a", "b", "c"], seed=1)
    t2, v2 = _table(["d"], seed=2)
    p1 = store.append(t1, run="20240101-x", dimension=DIM)
    p2 = store.append(t2, run="20240101-x", dimension=DIM)  # same run name: a fresh file
    assert p1 is not None
    assert p2 is not None
    assert p1 != p2
    assert [p.name for p in store.part_files()] == [
        "part-20240101-x.1.parquet",
        "part-20240101-x.parquet",
    ]
    assert store.existing_ids() == {"a", "b", "c", "d"}

    ids, matrix = store.load(["d", "a", "c"])
    assert ids == ["d", "a", "c"]
    assert matrix.dtype == np.float32
    assert matrix.shape == (3, DIM)
    np.testing.assert_array_equal(matrix, np.stack([v2[0], v1[0], v1[2]]))
    schema = pq.read_schema(p1)
    assert schema.field("vector").type == pa.list_(pa.float32())
    assert schema.metadata[b"tandem.model"] == b"org/model"


def test_load_missing_ids(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, "m")
    store.append(_table(["a"])[0], run="r", dimension=DIM)
    with pytest.raises(EmbedError, match="1 chunk"):
        store.load(["a", "zz"])
    ids, matrix = store.load(["zz", "a"], allow_missing=True)
    assert ids == ["a"]
    assert matrix.shape == (1, DIM)


def test_append_refuses_wrong_dimension_and_leaves_nothing(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, "m")
    bad = pa.table({"chunk_id": ["a"], "vector": [np.zeros(3, dtype=np.float32)]})
    with pytest.raises(EmbedError, match="dimension 4"):
        store.append(bad, run="r", dimension=DIM)
    assert store.part_files() == []
    assert store.append(_table([])[0], run="r", dimension=DIM) is None
    assert store.dimension() is None


def test_store_never_mixes_dimensions(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, "m")
    store.append(_table(["a"])[0], run="r")  # dimension taken from the vectors
    assert store.dimension() == DIM
    three = pa.table({"chunk_id": ["b"], "vector": [np.zeros(3, dtype=np.float32)]})
    with pytest.raises(EmbedError, match="holds 4-d vectors, got 3-d"):
        store.append(three, run="r2")
    assert store.existing_ids() == {"a"}


def test_store_from_settings(tmp_path: Path) -> None:
    settings = BatchSettings(data_dir=tmp_path)
    store = EmbeddingStore(settings=settings)
    # one folder per embedding model id, the backend's included (vectors never mix)
    expected = "sentence-transformers__all-MiniLM-L6-v2_onnx-int8"
    assert store.path == tmp_path / "embeddings" / expected
    torch = BatchSettings(data_dir=tmp_path, encoder_backend="torch")
    assert EmbeddingStore(settings=torch).path.name == "sentence-transformers__all-MiniLM-L6-v2"
    assert EmbeddingStore.for_settings(settings).path == store.path


pytestmark = pytest.mark.unit  # pure logic: `make unit`
