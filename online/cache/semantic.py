"""In-process mirror of one scope's cached question vectors, for nearest-question lookups."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SemanticMirror:
    """Question hashes and their unit vectors (row i of ``matrix`` is ``hashes[i]``)."""

    dimension: int
    hashes: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def __post_init__(self) -> None:
        if self.matrix.size == 0:
            self.matrix = np.zeros((0, self.dimension), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.hashes)

    def replace(self, vectors: dict[str, np.ndarray]) -> None:
        self.hashes = list(vectors)
        if vectors:
            self.matrix = np.vstack([vectors[h] for h in self.hashes]).astype(np.float32)
        else:
            self.matrix = np.zeros((0, self.dimension), dtype=np.float32)

    def add(self, question_hash: str, vector: np.ndarray) -> None:
        if question_hash in self.hashes:
            return
        self.hashes.append(question_hash)
        self.matrix = np.vstack([self.matrix, vector.reshape(1, -1).astype(np.float32)])

    def remove(self, question_hash: str) -> None:
        if question_hash not in self.hashes:
            return
        i = self.hashes.index(question_hash)
        del self.hashes[i]
        self.matrix = np.delete(self.matrix, i, axis=0)

    def nearest(
        self, vector: np.ndarray, *, threshold: float, limit: int = 3
    ) -> list[tuple[str, float]]:
        """Up to ``limit`` (hash, cosine) pairs at or above ``threshold``, best first."""
        if not self.hashes:
            return []
        sims = self.matrix @ np.asarray(vector, dtype=np.float32).reshape(-1)
        order = np.argsort(-sims)[:limit]
        return [(self.hashes[i], float(sims[i])) for i in order if sims[i] >= threshold]
