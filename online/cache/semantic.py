"""In-process mirror of one scope's cached question vectors, for nearest-question lookups.

Rows live in a preallocated matrix whose capacity doubles when full; a dict maps each question
hash to its row, and a removal moves the last row into the freed one (swap-remove). Adding,
replacing and removing a vector are O(1) amortised; a lookup is one matrix-vector product over
the rows in use. ``epoch``/``seq``/``last_id`` record how far the scope's change log
(``core.cache.bounded``) has been replayed into it.
"""

from __future__ import annotations

import asyncio

import numpy as np

_INITIAL_ROWS = 256


class SemanticMirror:
    """Question hashes and their unit vectors (row i of ``matrix`` is ``hashes[i]``)."""

    def __init__(self, dimension: int, *, capacity: int = 0) -> None:
        """``capacity``: rows the scope holds at most (growth stops there; 0: unknown)."""
        self.dimension = dimension
        self.capacity = capacity
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

    def clear(self) -> None:
        self._rows = np.zeros((_INITIAL_ROWS, self.dimension), dtype=np.float32)
        self._hashes.clear()
        self._index.clear()

    def replace(self, vectors: dict[str, np.ndarray]) -> None:
        self.clear()
        for qhash, vector in vectors.items():
            self.add(qhash, vector)

    def add(self, question_hash: str, vector: np.ndarray) -> None:
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

    def remove(self, question_hash: str) -> None:
        row = self._index.pop(question_hash, None)
        if row is None:
            return
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
        sims = self._rows[:n] @ np.asarray(vector, dtype=np.float32).reshape(-1)
        if n > limit:
            top = np.argpartition(-sims, limit)[:limit]
            order = top[np.argsort(-sims[top])]
        else:
            order = np.argsort(-sims)
        return [(self._hashes[i], float(sims[i])) for i in order if sims[i] >= threshold]
