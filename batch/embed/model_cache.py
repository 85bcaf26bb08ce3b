"""The encoder of a Spark Python worker, loaded once per worker process.

This module must be imported (not defined in a driver script): functions that Spark pickles
refer to it by name, so each worker process imports it once and keeps the loaded model in its
globals across tasks and batches. A global in the driver script would instead be pickled into
every task and the model reloaded each time.

``load_count()`` says how many times this process loaded a model; the embed job reports it from
the workers, so "once per worker" is checked, not assumed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from online.embedding import Encoder, get_encoder

_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], Encoder] = {}
_LOADS = 0


def encoder(model_path: str | None, device: str) -> Encoder:
    """The process's encoder for ``(model_path, device)``; loads it on first use only."""
    global _LOADS
    key = (model_path or "", device)
    with _LOCK:
        enc = _LOADED.get(key)
        if enc is None:
            enc = get_encoder(Path(model_path) if model_path else None, device=device)
            _LOADED[key] = enc
            _LOADS += 1
        return enc


def load_count() -> int:
    """How many models this process has loaded through :func:`encoder`."""
    return _LOADS


def worker_id() -> str:
    """An id for this worker process (host and pid)."""
    return f"{os.uname().nodename}:{os.getpid()}"
