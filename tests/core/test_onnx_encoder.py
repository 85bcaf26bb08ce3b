"""The ONNX encoder backends: conformance, agreement with torch on real text, the export cache,
and one embedding model id per backend.

The exports are cached in one folder under the temp dir for every run on this machine (like the
test corpus), so a suite exports each backend once per machine, not once per run.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.encoder import TextEncoder, bundled_model_path, get_encoder
from core.encoders.export import Recipe, ensure_exported, export_key
from shared_schemas.config import EMBEDDING_MODEL_ID, CommonSettings, backend_model_id
from shared_schemas.layout import cache_key
from tests.conftest import squad_path
from tests.core.encoder_suite import TextEncoderContract

EXPORT_CACHE = Path(tempfile.gettempdir()) / "tandem-test-encoders"


def _real_texts() -> tuple[list[str], list[str]]:
    with gzip.open(squad_path(), "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    paragraphs = [p for a in data["data"] for p in a["paragraphs"]]
    contexts = [p["context"] for p in paragraphs[::40]]  # 52, long and short, every article
    questions = [q["question"] for p in paragraphs[::20] for q in p["qas"][:1]]
    return contexts, questions


@pytest.fixture(scope="module")
def real_texts() -> tuple[list[str], list[str]]:
    return _real_texts()


Agreement = Callable[[TextEncoder], list[np.ndarray]]


@pytest.fixture(scope="module")
def agreement(real_texts: tuple[list[str], list[str]]) -> Agreement:
    """Row-wise cosines of an encoder's vectors with torch's, on real paragraphs and questions."""
    torch_enc = get_encoder(device="cpu", backend="torch")
    refs = [torch_enc.encode(texts) for texts in real_texts]

    def cosines(encoder: TextEncoder) -> list[np.ndarray]:
        return [
            (encoder.encode(texts) * ref).sum(axis=1)
            for texts, ref in zip(real_texts, refs, strict=True)
        ]

    return cosines


def _onnx(backend: str) -> TextEncoder:
    return get_encoder(device="cpu", backend=backend, cache_dir=EXPORT_CACHE)  # type: ignore[arg-type]


@pytest.mark.slow
class TestOnnxEncoder(TextEncoderContract):
    @pytest.fixture(scope="class")
    def encoder(self) -> TextEncoder:
        return _onnx("onnx")

    def test_vectors_match_torch(self, encoder: TextEncoder, agreement: Agreement) -> None:
        for cos in agreement(encoder):  # paragraphs, then questions
            assert cos.min() > 0.9999, cos.min()


@pytest.mark.slow
class TestOnnxInt8Encoder(TextEncoderContract):
    # dynamic quantisation scales activations per batch: a text's vector moves a little with
    # the texts it is batched with (measured: 0.018 at most per component, cosine 0.995)
    batch_atol = 0.03

    @pytest.fixture(scope="class")
    def encoder(self) -> TextEncoder:
        return _onnx("onnx-int8")

    def test_vectors_close_to_torch(self, encoder: TextEncoder, agreement: Agreement) -> None:
        for cos in agreement(encoder):  # paragraphs, then questions
            assert cos.min() > 0.98, cos.min()
            assert cos.mean() > 0.99, cos.mean()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_export_cache_is_reused(backend: str) -> None:
    first = ensure_exported(bundled_model_path(), EXPORT_CACHE, backend)
    again = ensure_exported(bundled_model_path(), EXPORT_CACHE, backend)
    assert again.reused
    assert again.path == first.path
    assert again.record["key"] == first.record["key"] == first.path.name.rsplit("-", 1)[1]
    assert again.model_file.stat().st_mtime_ns == first.model_file.stat().st_mtime_ns
    assert again.record["recipe"]["backend"] == backend


@pytest.mark.slow
def test_an_export_is_readable_by_other_users(tmp_path: Path) -> None:
    """The online image exports as root at build time and serves as an unprivileged user."""
    import stat

    done = ensure_exported(bundled_model_path(), tmp_path / "cache", "onnx")
    assert not done.reused
    mode = stat.S_IMODE(done.path.stat().st_mode)
    assert mode & 0o005 == 0o005, oct(mode)  # others may list and enter the folder
    for f in done.path.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) & 0o004, f  # and read every file in it


@pytest.mark.unit
def test_export_key_follows_the_model_and_the_recipe(tmp_path: Path) -> None:
    bundled = bundled_model_path()
    fp32, int8 = Recipe.for_backend("onnx"), Recipe.for_backend("onnx-int8")
    assert export_key(bundled, fp32) == export_key(bundled, fp32)
    assert export_key(bundled, fp32) != export_key(bundled, int8)
    changed = tmp_path / "model"
    changed.mkdir()
    for f in bundled.iterdir():  # the same weights (linked), another config
        if f.is_file() and f.name != "config.json":
            (changed / f.name).symlink_to(f)
    shutil.copytree(bundled / "1_Pooling", changed / "1_Pooling")
    config = json.loads((bundled / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    assert export_key(changed, fp32) != export_key(bundled, fp32)


@pytest.mark.unit
def test_each_backend_has_its_own_embedding_model_id() -> None:
    backends = ("torch", "onnx", "onnx-int8")
    ids = {b: CommonSettings(encoder_backend=b).embedding_model for b in backends}
    assert ids["torch"] == EMBEDDING_MODEL_ID
    assert len(set(ids.values())) == 3
    assert ids["onnx-int8"] == backend_model_id(EMBEDDING_MODEL_ID, "onnx-int8")
    # a configured model id gains the backend too, once
    custom = CommonSettings(encoder_backend="onnx", embedding_model="org/other")
    assert custom.embedding_model == "org/other+onnx"
    assert backend_model_id(custom.embedding_model, "onnx") == "org/other+onnx"
    keys = {
        cache_key(
            namespace="default",
            index_version="v1",
            embedding_model=m,
            llm_model="llm",
            prompt_version="p3",
            question_hash="q",
        )
        for m in ids.values()
    }
    assert len(keys) == 3


@pytest.mark.slow
def test_encoder_ids_follow_the_backend() -> None:
    assert get_encoder(device="cpu", backend="torch").model_id == EMBEDDING_MODEL_ID
    assert get_encoder(device="cpu").model_id == f"{EMBEDDING_MODEL_ID}+onnx-int8"  # default
    assert _onnx("onnx").model_id == f"{EMBEDDING_MODEL_ID}+onnx"
    assert _onnx("onnx-int8").model_id == f"{EMBEDDING_MODEL_ID}+onnx-int8"
