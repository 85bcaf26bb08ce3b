"""The ONNX Runtime adapter of the text-encoder port, on an export of :mod:`core.encoders.export`.

Tokenisation is the model's own ``tokenizer.json`` (the fast tokenizer sentence-transformers
uses): texts stripped, truncated to ``max_seq_length`` tokens with the special tokens, sorted by
length and padded per batch to the longest, as sentence-transformers does. The graph returns
mean-pooled, L2-normalised float32 rows, so the vectors match the torch encoder's.

Threads: ``intra_op_num_threads`` is ``OMP_NUM_THREADS`` when set (as torch reads it: a Spark
worker runs one), else the CPUs this process may use; ONNX Runtime's worker threads do not spin
while idle (the machine is shared).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from core.encoders.export import MODEL_FILE, Exported

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Threads one encoder runs on: ``OMP_NUM_THREADS`` when set, else the usable CPUs."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, len(os.sched_getaffinity(0)))


class OnnxEncoder:
    """An exported sentence-transformers model run by ONNX Runtime on the CPU."""

    device = "cpu"

    def __init__(
        self, exported: Exported, *, model_id: str, backend: str, threads: int | None = None
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        record = exported.record
        self.model_path: Path = exported.path
        self.model_id = model_id
        self.backend = backend
        self.dimension = int(record["dimension"])
        self.max_seq_length = int(record["max_seq_length"])
        self._lower = bool(record.get("do_lower_case", False))
        self.threads = threads or default_threads()
        tok = Tokenizer.from_file(str(exported.path / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=self.max_seq_length)
        self._tokenizer = tok
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(exported.path / MODEL_FILE), opts, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()
        log.info(
            "embedding model loaded backend=%s path=%s threads=%d dim=%d",
            backend,
            exported.path,
            self.threads,
            self.dimension,
        )

    @property
    def tokenizer(self) -> object:
        return self._tokenizer

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        prepared = [t.strip().lower() if self._lower else t.strip() for t in texts]
        ids = [e.ids for e in self._tokenizer.encode_batch(prepared, add_special_tokens=True)]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        with self._lock:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = len(ids[rows[0]])
                input_ids = np.zeros((len(rows), width), dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, i in enumerate(rows):
                    n = len(ids[i])
                    input_ids[r, :n] = ids[i]
                    mask[r, :n] = 1
                feeds = {
                    "input_ids": input_ids,
                    "attention_mask": mask,
                    "token_type_ids": np.zeros_like(input_ids),
                }
                out[rows] = self._session.run(None, feeds)[0]
        return out
