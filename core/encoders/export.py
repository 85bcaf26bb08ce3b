"""The offline ONNX export of a sentence-transformers model folder, cached and versioned.

:func:`ensure_exported` is the one entry: it returns the folder of an exported model for a
backend (``onnx``: fp32, ``onnx-int8``: dynamic int8 quantisation of the fp32 graph), exporting
it on first use. The folder's name carries a key of what went into it: the model's files
(config, tokenizer, weights, pooling, by content), the recipe (opset, quantisation, pooling) and
the exporter's versions, so a changed model or recipe exports anew and an unchanged one is
reused. The graph holds the whole sentence-transformers pipeline after tokenisation: the BERT
encoder, mean pooling over the attention mask and L2 normalisation, so its output is the
sentence embedding itself.

Exporting needs torch, transformers and onnx (and onnxruntime's quantiser for int8); using an
export needs only onnxruntime and tokenizers. A folder appears whole or not at all: it is
written under a temporary name and renamed; a concurrent export that loses the rename keeps the
winner's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import EmbeddingModelError

log = logging.getLogger(__name__)

#: the backends this module exports, each with its recipe's quantisation
EXPORTED_BACKENDS = ("onnx", "onnx-int8")
#: bumped when the recipe changes what an export computes
RECIPE_VERSION = 1
OPSET = 17
MODEL_FILE = "model.onnx"
RECORD_FILE = "export.json"
_MODEL_FILES = (
    "config.json",
    "tokenizer.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "model.safetensors",
)


@dataclass(frozen=True)
class Recipe:
    """What an export does; every field is in the cache key."""

    backend: str
    opset: int = OPSET
    pooling: str = "mean+l2"
    quantisation: str = "none"
    recipe_version: int = RECIPE_VERSION

    @classmethod
    def for_backend(cls, backend: str) -> Recipe:
        if backend == "onnx":
            return cls(backend)
        if backend == "onnx-int8":
            return cls(backend, quantisation="dynamic-qint8-matmul-per-channel")
        raise EmbeddingModelError(f"no ONNX export for encoder backend {backend!r}")


@dataclass(frozen=True)
class Exported:
    """An export on disk and whether this call reused it."""

    path: Path
    reused: bool
    record: dict[str, Any]

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE


def _model_digest(model_path: Path) -> str:
    """sha256 over the model folder's files that decide its vectors (by content)."""
    h = hashlib.sha256()
    for name in _MODEL_FILES:
        f = model_path / name
        if not f.exists():
            continue
        h.update(name.encode() + b"\0")
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def _tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "onnx", "onnxruntime"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover - install problem
            out[pkg] = "absent"
    return out


def export_key(model_path: Path, recipe: Recipe) -> str:
    """The cache key of ``recipe`` applied to the model in ``model_path``."""
    blob = json.dumps(
        {"model": _model_digest(model_path), "recipe": asdict(recipe), "tools": _tool_versions()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ensure_exported(model_path: Path, cache_dir: Path, backend: str) -> Exported:
    """The export of ``model_path`` for ``backend`` under ``cache_dir``, made on first use."""
    recipe = Recipe.for_backend(backend)
    key = export_key(model_path, recipe)
    target = cache_dir / f"{backend}-{key}"
    record_file = target / RECORD_FILE
    if record_file.exists() and (target / MODEL_FILE).exists():
        record = json.loads(record_file.read_text())
        log.info("encoder export reused backend=%s path=%s", backend, target)
        return Exported(target, True, record)
    log.info(
        "encoder export: first use of backend=%s, exporting %s to %s (once; cached)",
        backend,
        model_path,
        target,
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{backend}-{key}-", dir=cache_dir))
    try:
        try:
            meta = _export(model_path, tmp, recipe)
        except EmbeddingModelError:
            raise
        except (OSError, ValueError) as exc:  # not a sentence-transformers model folder
            raise EmbeddingModelError(
                f"{model_path} cannot be exported for {backend}: {type(exc).__name__}: {exc}"
            ) from exc
        record = {
            "key": key,
            "recipe": asdict(recipe),
            "source": str(model_path),
            "model_digest": _model_digest(model_path),
            "tools": _tool_versions(),
            "export_s": round(time.perf_counter() - started, 2),
            **meta,
        }
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
        # mkdtemp makes the folder owner-only; an export is shared, read-only, by every process
        # that embeds (an image's service user reads what its build, as root, exported)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished the same export first: keep its folder
            if not (target / RECORD_FILE).exists():
                raise
            record = json.loads((target / RECORD_FILE).read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info(
        "encoder export done backend=%s in %.1f s path=%s",
        backend,
        time.perf_counter() - started,
        target,
    )
    return Exported(target, False, record)


def _export(model_path: Path, out: Path, recipe: Recipe) -> dict[str, Any]:
    """Write ``model.onnx`` and ``tokenizer.json`` into ``out``; returns what the record adds."""
    import torch
    from transformers import AutoModel

    settings = json.loads((model_path / "sentence_bert_config.json").read_text())
    pooling_file = model_path / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_file.read_text()) if pooling_file.exists() else {}
    if pooling and not pooling.get("pooling_mode_mean_tokens", False):
        raise EmbeddingModelError(f"{model_path}: only mean pooling is exported")
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()
    wrapper = _sentence_embedding_module()(model)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((2, 8), dtype=torch.int64)
    args = (sample, sample, torch.zeros_like(sample))
    fp32 = out / ("fp32.onnx" if recipe.quantisation != "none" else MODEL_FILE)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            args,
            str(fp32),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{n: {0: "batch", 1: "tokens"} for n in names},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=recipe.opset,
            dynamo=False,
        )
    if recipe.quantisation != "none":
        _quantise(fp32, out / MODEL_FILE)
        fp32.unlink()
    shutil.copy(model_path / "tokenizer.json", out / "tokenizer.json")
    return {
        "dimension": int(model.config.hidden_size),
        "max_seq_length": int(settings.get("max_seq_length", 256)),
        "do_lower_case": bool(settings.get("do_lower_case", False)),
    }


def _quantise(fp32: Path, out: Path) -> None:
    """Dynamic int8: the MatMul weights per output channel (embeddings, attention scores and
    norms stay fp32); per-tensor weights or quantised embeddings cost too much accuracy."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs one line per tensor it leaves alone
    try:
        quantize_dynamic(
            str(fp32),
            str(out),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
    finally:
        root.setLevel(level)


def _sentence_embedding_module() -> Any:
    import torch

    class SentenceEmbedding(torch.nn.Module):
        """BERT encoder, mean pooling over the mask, L2 normalisation (sentence-transformers)."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return SentenceEmbedding
