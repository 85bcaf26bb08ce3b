"""The embed job's worker step on an ONNX backend: the driver's export is what the workers load,
and the vectors are the backend's (the Spark job itself runs the same function per partition)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batch.embed.encode import EncodeSpec, encode_batches
from batch.embed.run import prepare_backend
from batch.settings import BatchSettings
from core.encoder import get_encoder
from tests.core.test_onnx_encoder import EXPORT_CACHE


@pytest.mark.slow
def test_workers_encode_with_the_configured_backend(tmp_path: Path) -> None:
    settings = BatchSettings(
        data_dir=tmp_path / "var", encoder_backend="onnx-int8", encoder_cache_dir=EXPORT_CACHE
    )
    assert settings.embedding_model.endswith("+onnx-int8")
    cache = prepare_backend(settings)  # the driver: exports (or finds) the artifact
    assert cache == EXPORT_CACHE
    assert any(p.name.startswith("onnx-int8-") for p in cache.iterdir())
    spec = EncodeSpec(
        model_path=None,
        device="cpu",
        batch_size=8,
        backend=settings.encoder_backend,
        cache_dir=str(cache),
        model_id=settings.embedding_model,
    )
    texts = ["The Broncos won Super Bowl 50.", "Water boils at 100 degrees Celsius."]
    frame = pd.DataFrame({"chunk_id": ["a", "b"], "text": texts})
    (out,) = list(encode_batches(iter([frame]), spec))
    vectors = np.stack(out["vector"].to_list())
    expected = get_encoder(device="cpu", backend="onnx-int8", cache_dir=EXPORT_CACHE)
    assert expected.model_id == settings.embedding_model
    assert np.allclose(vectors, expected.encode(texts, batch_size=8), atol=1e-6)
