"""Hybrid search over one loaded index version (FAISS dense + bm25s lexical).

The dense top-N and the BM25 top-N are fused by a convex combination of min-max normalised
scores (``FusionParams``), a method tuned on SQuAD v1.1 dev (see ``bench/quality.py`` and
``bench/README.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.index.lexical import Tokenizer
from shared_schemas.manifest import IndexManifest

if TYPE_CHECKING:
    import bm25s


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    doc_id: str
    title: str
    text: str
    content_hash: str
    score: float


@dataclass(frozen=True)
class FusionParams:
    """Hybrid fusion: ``w * minmax(dense) + (1 - w) * minmax(bm25)`` over the candidate union.

    On SQuAD v1.1 dev (2,067 paragraphs, 10,570 questions) recall@1/@5 is flat for w in
    0.4-0.55 (0.816/0.961 with stemming at 0.5) and falls off beyond 0.6; plain RRF (k 60) gave
    0.771/0.938 on the same lists. Re-tuned held out (tuned on the even-position articles,
    reported on the odd ones): w 0.5 again, test-half recall@1/@5 0.838/0.965. Figures and
    commands: bench/README.md.
    """

    dense_weight: float = 0.5
    candidates: int = 100  # per side, before fusion


DEFAULT_FUSION = FusionParams()


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo = float(x.min())
    span = float(x.max()) - lo
    if span <= 0:
        return np.ones_like(x) if float(x.max()) > 0 else np.zeros_like(x)
    return (x - lo) / span


class LoadedIndex:
    """One verified index version held in memory; :meth:`search` is the online hot path."""

    manifest: IndexManifest

    def __init__(
        self,
        manifest: IndexManifest,
        faiss_index: Any,
        ids: dict[str, list[str]],
        bm25: bm25s.BM25 | None,
        tokenizer: Tokenizer | None,
        *,
        fusion: FusionParams = DEFAULT_FUSION,
    ) -> None:
        self.manifest = manifest
        self.faiss_index = faiss_index
        self.fusion = fusion
        self._chunk_ids = ids["chunk_id"]
        self._doc_ids = ids["doc_id"]
        self._titles = ids["title"]
        self._texts = ids["text"]
        self._hashes = ids["content_hash"]
        self._bm25 = bm25
        self._tokenizer = tokenizer
        self._vocab: dict[str, int] = dict(bm25.vocab_dict) if bm25 is not None else {}
        self._can_reconstruct = _supports_reconstruct(faiss_index)
        self._rows: dict[str, int] | None = None  # chunk id -> row, built on first lookup

    def __len__(self) -> int:
        return len(self._chunk_ids)

    @property
    def version(self) -> str:
        return self.manifest.index_version

    @property
    def has_lexical(self) -> bool:
        return self._bm25 is not None

    def texts(self) -> Sequence[str]:
        """The text of every chunk, in row order (the speller's vocabulary is read from them)."""
        return self._texts

    def chunk(self, chunk_id: str) -> Hit | None:
        """The chunk ``chunk_id`` of this version (score 0), or None when it has none such.

        Answers served from the cache name their chunks by id; this resolves them from the
        texts the index holds anyway, so they are not kept a second time.
        """
        rows = self._rows
        if rows is None:
            rows = self._rows = {c: i for i, c in enumerate(self._chunk_ids)}
        row = rows.get(chunk_id)
        return None if row is None else self._hit(row, 0.0)

    def _hit(self, row: int, score: float) -> Hit:
        return Hit(
            chunk_id=self._chunk_ids[row],
            doc_id=self._doc_ids[row],
            title=self._titles[row],
            text=self._texts[row],
            content_hash=self._hashes[row],
            score=float(score),
        )

    def term_statistics(self) -> tuple[Tokenizer, dict[str, int], int] | None:
        """The lexical side's tokenizer, each term's document frequency and the document count
        (None without a lexical index): what BM25's IDF is computed from."""
        if self._bm25 is None or self._tokenizer is None:
            return None
        indptr = np.asarray(self._bm25.scores["indptr"])
        counts = np.diff(indptr)
        df = {term: int(counts[i]) for term, i in self._vocab.items() if i < counts.size}
        return self._tokenizer, df, int(self._bm25.scores["num_docs"])

    def dense_search(self, query_vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner-product scores of the dense top-n, best first."""
        q = np.ascontiguousarray(np.asarray(query_vec, dtype=np.float32).reshape(1, -1))
        if q.shape[1] != self.manifest.dimension:
            raise ValueError(
                f"query vector has dimension {q.shape[1]}, index expects {self.manifest.dimension}"
            )
        n = min(n, len(self))
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, rows = self.faiss_index.search(q, n)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def lexical_scores(self, query_text: str) -> np.ndarray | None:
        """BM25 score of every row for a query (None when there is no lexical index)."""
        if self._bm25 is None or self._tokenizer is None:
            return None
        token_ids = [self._vocab[t] for t in self._tokenizer(query_text) if t in self._vocab]
        if not token_ids:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(token_ids), dtype=np.float32)

    def lexical_search(self, query_text: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and BM25 scores of the lexical top-n (rows with score 0 left out)."""
        scores = self.lexical_scores(query_text)
        if scores is None or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return _top_n(scores, n)

    def _dense_scores_for(self, query_vec: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        if not self._can_reconstruct or rows.size == 0:
            return None
        try:
            vecs = self.faiss_index.reconstruct_batch(rows.astype(np.int64))
        except RuntimeError:
            self._can_reconstruct = False
            return None
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        return np.asarray(vecs @ q, dtype=np.float32)

    def search(
        self, query_vec: np.ndarray, query_text: str, k: int, *, lexical: bool = True
    ) -> list[Hit]:
        """The best k chunks for a question, best first (hybrid unless ``lexical=False``)."""
        if k <= 0 or len(self) == 0:
            return []
        n = max(k, self.fusion.candidates)
        d_rows, d_scores = self.dense_search(query_vec, n)
        if not lexical or self._bm25 is None:
            return [
                self._hit(int(r), float(s)) for r, s in zip(d_rows[:k], d_scores[:k], strict=True)
            ]
        all_bm25 = self.lexical_scores(query_text)
        assert all_bm25 is not None
        l_rows, _ = _top_n(all_bm25, n)
        rows = np.union1d(d_rows, l_rows)
        if rows.size == 0:
            return []
        dense = self._dense_scores_for(query_vec, rows)
        if dense is None:  # index cannot reconstruct: rows outside the dense top-n get its floor
            floor = float(d_scores.min()) if d_scores.size else 0.0
            by_row = dict(zip(d_rows.tolist(), d_scores.tolist(), strict=True))
            dense = np.array([by_row.get(int(r), floor) for r in rows], dtype=np.float32)
        lex = all_bm25[rows]
        w = self.fusion.dense_weight
        fused = w * _minmax(dense) + (1.0 - w) * _minmax(lex)
        order = np.argsort(-fused, kind="stable")[:k]
        return [self._hit(int(rows[i]), float(fused[i])) for i in order]


def _top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = min(n, scores.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    part = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    part = part[scores[part] > 0]
    order = part[np.argsort(-scores[part], kind="stable")]
    return order.astype(np.int64), scores[order]


def _supports_reconstruct(index: Any) -> bool:
    try:
        import faiss

        base = faiss.downcast_index(index)
        if isinstance(base, faiss.IndexIVF):
            base.make_direct_map()
        if index.ntotal > 0:
            index.reconstruct(0)
        return True
    except (RuntimeError, AttributeError, ImportError):
        return False
