"""In-process mirror of one scope's cached question vectors, for nearest-question lookups.

Rows live in a preallocated matrix whose capacity doubles when full; a dict maps each question
hash to its row, and a removal moves the last row into the freed one (swap-remove). Adding,
replacing and removing a vector are O(1) amortised; a lookup is one matrix-vector product over
the rows in use. ``epoch``/``seq``/``last_id`` record how far the scope's change log
(``core.cache.bounded``) has been replayed into it.

Past ``coarse_min_rows`` rows a lookup no longer reads every row: an inverted-file index
(FAISS ``IndexIVFFlat``, k-means lists trained on the rows held when the threshold is crossed,
retrained when the mirror has grown fourfold since) probes the ``nprobe`` lists nearest the
question and scores their rows exactly. Neighbours at cache-hit similarity (cosine 0.8 and up)
sit in the same or an adjacent list, so the probe keeps them while reading a few percent of the
rows (``bench/semantic_cache.py`` measures the lookup at 100,000 rows and the recall against
the full scan).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

_INITIAL_ROWS = 256
COARSE_MIN_ROWS = 20_000  #: rows from which lookups probe an inverted-file index
COARSE_NPROBE = 16


class _CoarseIndex:
    """FAISS inverted lists over the mirror's rows, keyed by a stable id per question hash."""

    def __init__(self, rows: np.ndarray, hashes: list[str], nprobe: int) -> None:
        import faiss

        n, dim = rows.shape
        nlist = int(min(1024, max(16, np.sqrt(n) * 2)))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 1234  # deterministic lists
        index.cp.niter = 10
        index.cp.max_points_per_centroid = 32  # k-means on a sample: well under a second
        data = np.ascontiguousarray(rows, dtype=np.float32)
        index.train(data)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.nprobe = nprobe
        index.add_with_ids(data, np.arange(n, dtype=np.int64))
        self.index: Any = index
        self.trained_rows = n
        self._ids: dict[str, int] = {h: i for i, h in enumerate(hashes)}
        self._hashes: dict[int, str] = dict(enumerate(hashes))
        self._next = n

    def add(self, question_hash: str, vector: np.ndarray) -> None:
        self.remove(question_hash)
        qid = self._next
        self._next += 1
        self._ids[question_hash] = qid
        self._hashes[qid] = question_hash
        self.index.add_with_ids(
            np.asarray(vector, dtype=np.float32).reshape(1, -1), np.array([qid], dtype=np.int64)
        )

    def remove(self, question_hash: str) -> None:
        qid = self._ids.pop(question_hash, None)
        if qid is not None:
            del self._hashes[qid]
            self.index.remove_ids(np.array([qid], dtype=np.int64))

    def search(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        sims, ids = self.index.search(q, limit)
        return [
            (self._hashes[int(i)], float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0
        ]


class SemanticMirror:
    """Question hashes and their unit vectors (row i of ``matrix`` is ``hashes[i]``)."""

    def __init__(
        self,
        dimension: int,
        *,
        capacity: int = 0,
        coarse_min_rows: int = COARSE_MIN_ROWS,
        nprobe: int = COARSE_NPROBE,
    ) -> None:
        """``capacity``: rows the scope holds at most (growth stops there; 0: unknown);
        ``coarse_min_rows``: rows from which lookups probe inverted lists (0: never)."""
        self.dimension = dimension
        self.capacity = capacity
        self.coarse_min_rows = coarse_min_rows
        self.nprobe = nprobe
        self._coarse: _CoarseIndex | None = None
        self._rows = np.zeros((_INITIAL_ROWS, dimension), dtype=np.float32)
        self._hashes: list[str] = []
        self._index: dict[str, int] = {}
        # how far the scope's change log has been replayed (the Redis adapter's bookkeeping)
        self.epoch: str | None = None
        self.seq = 0
        self.last_id = "0-0"
        self.lock = asyncio.Lock()
        self.loading: asyncio.Task[None] | None = None  #: a whole read of the scope under way

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, question_hash: object) -> bool:
        return question_hash in self._index

    @property
    def hashes(self) -> list[str]:
        return list(self._hashes)

    @property
    def matrix(self) -> np.ndarray:
        """The rows in use (a view)."""
        return self._rows[: len(self._hashes)]

    @property
    def nbytes(self) -> int:
        """Bytes the preallocated matrix holds (rows in use and spare)."""
        return int(self._rows.nbytes)

    @property
    def coarse(self) -> bool:
        """Whether lookups probe inverted lists (else they read every row)."""
        return self._coarse is not None

    def clear(self) -> None:
        self._rows = np.zeros((_INITIAL_ROWS, self.dimension), dtype=np.float32)
        self._hashes.clear()
        self._index.clear()
        self._coarse = None

    def replace(self, vectors: dict[str, np.ndarray]) -> None:
        self.clear()
        for qhash, vector in vectors.items():
            self.add(qhash, vector, _coarse=False)
        self._maybe_train()

    def _maybe_train(self) -> None:
        n = len(self._hashes)
        if not self.coarse_min_rows or n < self.coarse_min_rows:
            return
        if self._coarse is None or n >= 4 * self._coarse.trained_rows:
            self._coarse = _CoarseIndex(self._rows[:n], self._hashes, self.nprobe)

    def add(self, question_hash: str, vector: np.ndarray, *, _coarse: bool = True) -> None:
        """Add a vector, or replace the one a question already has."""
        row = self._index.get(question_hash)
        if row is None:
            row = len(self._hashes)
            if row == self._rows.shape[0]:
                size = 2 * row if row >= self.capacity else min(2 * row, self.capacity)
                grown = np.zeros((size, self.dimension), dtype=np.float32)
                grown[:row] = self._rows
                self._rows = grown
            self._hashes.append(question_hash)
            self._index[question_hash] = row
        self._rows[row] = np.asarray(vector, dtype=np.float32).reshape(-1)
        if not _coarse:
            return
        if self._coarse is not None:
            self._coarse.add(question_hash, self._rows[row])
        self._maybe_train()

    def remove(self, question_hash: str) -> None:
        row = self._index.pop(question_hash, None)
        if row is None:
            return
        if self._coarse is not None:
            self._coarse.remove(question_hash)
        last = len(self._hashes) - 1
        moved = self._hashes.pop()
        if row != last:
            self._rows[row] = self._rows[last]
            self._hashes[row] = moved
            self._index[moved] = row

    def nearest(
        self, vector: np.ndarray, *, threshold: float, limit: int = 3
    ) -> list[tuple[str, float]]:
        """Up to ``limit`` (hash, cosine) pairs at or above ``threshold``, best first."""
        n = len(self._hashes)
        if not n:
            return []
        if self._coarse is not None:
            return [(h, s) for h, s in self._coarse.search(vector, limit) if s >= threshold]
        sims = self._rows[:n] @ np.asarray(vector, dtype=np.float32).reshape(-1)
        if n > limit:
            top = np.argpartition(-sims, limit)[:limit]
            order = top[np.argsort(-sims[top])]
        else:
            order = np.argsort(-sims)
        return [(self._hashes[i], float(sims[i])) for i in order if sims[i] >= threshold]
