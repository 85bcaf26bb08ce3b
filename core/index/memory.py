"""An in-memory :class:`~core.answering.VectorIndex`: exact cosine search over a few rows.

The same search contract as the FAISS-backed :class:`~core.index.search.LoadedIndex` (the
conformance suite ``tests/core/vector_index_suite.py`` runs on both): best first, at most ``k``,
a dimension mismatch is a ValueError, ``chunk(id)`` resolves a chunk. With ``lexical=True`` the
dense score is fused with plain word overlap, a stand-in for BM25 that needs no index files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.index.lexical import LexicalConfig, Tokenizer, lexical_text
from core.index.search import Hit


class InMemoryVectorIndex:
    def __init__(
        self, version: str, hits: Sequence[Hit], vectors: np.ndarray, *, dense_weight: float = 0.5
    ) -> None:
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != len(hits):
            raise ValueError(f"{x.shape[0] if x.ndim else 0} vectors for {len(hits)} chunks")
        norms = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        self._version = version
        self._rows = [Hit(h.chunk_id, h.doc_id, h.title, h.text, h.content_hash, 0.0) for h in hits]
        self._by_id = {h.chunk_id: h for h in self._rows}
        self._matrix = x / norms
        self._weight = dense_weight
        self._tokenize = Tokenizer(LexicalConfig(stemmer=None))
        self._words = [set(self._tokenize(lexical_text(h.title, h.text))) for h in self._rows]

    @property
    def version(self) -> str:
        return self._version

    @property
    def dimension(self) -> int:
        return int(self._matrix.shape[1])

    def __len__(self) -> int:
        return len(self._rows)

    def chunk(self, chunk_id: str) -> Hit | None:
        return self._by_id.get(chunk_id)

    def search(
        self, query_vec: np.ndarray, query_text: str, k: int, *, lexical: bool = True
    ) -> list[Hit]:
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if q.size != self.dimension:
            raise ValueError(f"query vector has dimension {q.size}, index expects {self.dimension}")
        if k <= 0 or not self._rows:
            return []
        scores = self._matrix @ q
        if lexical:
            words = set(self._tokenize(query_text))
            overlap = np.array(
                [len(words & w) / max(1, len(words)) for w in self._words], dtype=np.float32
            )
            scores = self._weight * scores + (1.0 - self._weight) * overlap
        order = np.argsort(-scores, kind="stable")[:k]
        return [self._with_score(self._rows[i], float(scores[i])) for i in order]

    @staticmethod
    def _with_score(hit: Hit, score: float) -> Hit:
        return Hit(hit.chunk_id, hit.doc_id, hit.title, hit.text, hit.content_hash, score)
