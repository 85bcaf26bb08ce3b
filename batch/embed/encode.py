"""The per-partition encode step, usable with or without Spark.

:func:`encode_frame` turns a pandas frame of ``chunk_id, text`` into ``chunk_id, vector``;
:func:`encode_batches` is its ``mapInPandas`` form: it takes the worker's cached encoder
(:func:`core.encoder.get_encoder`), encodes each Arrow batch and reports the worker's load count
and rows through a Spark accumulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core import encoder as encoders
from shared_schemas.config import EncoderBackend

if TYPE_CHECKING:
    from core.encoder import TextEncoder

#: Spark schema of the encode step's output (also the store's columns).
OUTPUT_DDL = "chunk_id string, vector array<float>"


@dataclass(frozen=True)
class EncodeSpec:
    """What a worker needs to encode: picklable, small."""

    model_path: str | None
    device: str
    batch_size: int
    backend: EncoderBackend = "torch"
    #: the ONNX export cache (the driver exports before the job, workers only load)
    cache_dir: str | None = None
    model_id: str | None = None


@dataclass(frozen=True)
class WorkerStats:
    """What one worker process reports: models loaded in its lifetime, device, rows encoded."""

    loads: int
    device: str
    rows: int


def worker_id() -> str:
    """An id for this worker process (host and pid)."""
    return f"{os.uname().nodename}:{os.getpid()}"


def encode_frame(frame: pd.DataFrame, encoder: TextEncoder, *, batch_size: int) -> pd.DataFrame:
    """``chunk_id, text`` in, ``chunk_id, vector`` (normalised float32 arrays) out."""
    vectors = encoder.encode([str(t) for t in frame["text"].tolist()], batch_size=batch_size)
    return pd.DataFrame({"chunk_id": frame["chunk_id"].to_numpy(), "vector": list(vectors)})


def encode_batches(
    batches: Iterator[pd.DataFrame], spec: EncodeSpec, stats: Any = None
) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` function: encode every batch with this worker's one encoder."""
    encoder: TextEncoder | None = None
    rows = 0
    for frame in batches:
        if frame.empty:
            continue
        if encoder is None:  # loaded on the first non-empty batch; cached for the process
            path = Path(spec.model_path) if spec.model_path else None
            encoder = encoders.get_encoder(
                path,
                device=spec.device,
                backend=spec.backend,
                cache_dir=Path(spec.cache_dir) if spec.cache_dir else None,
                model_id=spec.model_id,
            )
        rows += len(frame)
        yield encode_frame(frame, encoder, batch_size=spec.batch_size)
    if stats is not None and encoder is not None:
        stats.add({worker_id(): WorkerStats(encoders.load_count(), encoder.device, rows)})
