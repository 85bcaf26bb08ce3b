"""Load, verify and search a published index version (FAISS dense + bm25s lexical).

A version directory (``indexes/<version>/``) holds ``manifest.json``, ``index.faiss``,
``ids.parquet`` (row i of the FAISS index <-> row i here) and optionally ``bm25/``.
:func:`load_index` checks the manifest's schema version, the sha256 of every artifact, the
embedding model and the dimension before anything is served.

Search is hybrid: the dense top-N and the BM25 top-N are fused by a convex combination of
min-max normalised scores (``FusionParams``), a method tuned on SQuAD v1.1 dev (see
``bench/quality.py`` and ``bench/README.md``). The tokenizer used for the lexical side is defined
here, once, and the batch builder imports it, so the index and the queries agree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shared_schemas.base import SchemaError, SchemaVersionError
from shared_schemas.layout import BM25_DIR, FAISS_FILE, IDMAP_FILE, LIVE_POINTER, MANIFEST_FILE
from shared_schemas.manifest import IndexManifest

if TYPE_CHECKING:
    import bm25s

log = logging.getLogger(__name__)

IDMAP_COLUMNS = ("chunk_id", "doc_id", "title", "text", "content_hash")
LEXICAL_CONFIG_FILE = "tokenizer.json"  # inside bm25/: how the lexical side was tokenized

_WORD = re.compile(r"\w+", re.UNICODE)
# A short English stop list (function words only); kept in code so index and query agree.
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


class IndexLoadError(Exception):
    """An index version could not be loaded or did not verify."""


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    doc_id: str
    title: str
    text: str
    content_hash: str
    score: float


@dataclass(frozen=True)
class LexicalConfig:
    """How text is turned into BM25 tokens; stored beside the bm25 index."""

    lowercase: bool = True
    stopwords: bool = True
    stemmer: str | None = None  # a PyStemmer algorithm name ("english"), or None

    def to_json(self) -> str:
        return json.dumps(
            {"lowercase": self.lowercase, "stopwords": self.stopwords, "stemmer": self.stemmer}
        )

    @classmethod
    def from_json(cls, text: str) -> LexicalConfig:
        data = json.loads(text)
        return cls(
            lowercase=bool(data.get("lowercase", True)),
            stopwords=bool(data.get("stopwords", True)),
            stemmer=data.get("stemmer"),
        )


def default_lexical_config() -> LexicalConfig:
    """Stemming when PyStemmer is installed, plain lower-cased words otherwise."""
    try:
        import Stemmer  # noqa: F401  (PyStemmer)
    except ImportError:
        return LexicalConfig(stemmer=None)
    return LexicalConfig(stemmer="english")


_STEM_CACHE_MAX = 500_000


class Tokenizer:
    """Lower-cased word tokens, optional stop-word removal and stemming."""

    def __init__(self, config: LexicalConfig) -> None:
        self.config = config
        self._stem: Any = None
        self._stems: dict[str, str] = {}  # word -> stem; stemming each distinct word once
        if config.stemmer:
            try:
                import Stemmer
            except ImportError as exc:
                raise IndexLoadError(
                    f"lexical index was built with stemmer {config.stemmer!r} but PyStemmer "
                    "is not installed (pip install PyStemmer)"
                ) from exc
            self._stem = Stemmer.Stemmer(config.stemmer).stemWords

    def __call__(self, text: str) -> list[str]:
        if self.config.lowercase:
            text = text.lower()
        words = _WORD.findall(text)
        if self.config.stopwords:
            words = [w for w in words if w not in STOPWORDS]
        if self._stem is not None and words:
            cache = self._stems  # shared by threads: read into a local map, never index it
            local = {w: cache.get(w) for w in set(words)}
            missing = [w for w, stem in local.items() if stem is None]
            if missing:
                stems = dict(zip(missing, self._stem(missing), strict=True))
                local.update(stems)
                if len(cache) > _STEM_CACHE_MAX:
                    cache.clear()
                cache.update(stems)
            words = [local[w] or w for w in words]
        return words


@dataclass(frozen=True)
class FusionParams:
    """Hybrid fusion: ``w * minmax(dense) + (1 - w) * minmax(bm25)`` over the candidate union.

    On SQuAD v1.1 dev (2,067 paragraphs, 10,570 questions) recall@1/@5 is flat for w in
    0.4-0.55 (0.816/0.961 with stemming at 0.5) and falls off beyond 0.6; plain RRF (k 60) gave
    0.771/0.938 on the same lists. Figures and command: bench/README.md.
    """

    dense_weight: float = 0.5
    candidates: int = 100  # per side, before fusion


DEFAULT_FUSION = FusionParams()


def lexical_text(title: str, text: str) -> str:
    """The text the lexical side indexes for one chunk: title, then body."""
    return f"{title}\n{text}" if title else text


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def read_manifest(version_dir: Path) -> IndexManifest:
    """The manifest of a version directory; IndexLoadError when missing or unreadable."""
    path = version_dir / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IndexLoadError(f"{path}: cannot read manifest ({exc})") from exc
    try:
        return IndexManifest.parse(raw)
    except SchemaVersionError as exc:
        raise IndexLoadError(f"{path}: {exc}") from exc
    except SchemaError as exc:
        raise IndexLoadError(f"{path}: invalid manifest: {exc}") from exc


def verify_artifacts(version_dir: Path, manifest: IndexManifest) -> None:
    """Check every artifact's size and sha256 against the manifest."""
    names = {a.path for a in manifest.artifacts}
    for required in (FAISS_FILE, IDMAP_FILE):
        if required not in names:
            raise IndexLoadError(f"{version_dir}: manifest lists no {required}")
    for art in manifest.artifacts:
        path = version_dir / art.path
        if not path.is_file():
            raise IndexLoadError(f"{version_dir}: artifact {art.path} is missing")
        size = path.stat().st_size
        if size != art.bytes:
            raise IndexLoadError(
                f"{version_dir}: artifact {art.path} has {size} bytes, manifest says {art.bytes}"
            )
        digest = sha256_file(path)
        if digest != art.sha256:
            raise IndexLoadError(
                f"{version_dir}: artifact {art.path} sha256 {digest} does not match the manifest"
            )


def _read_ids(path: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(IDMAP_COLUMNS))
    except (OSError, ValueError, KeyError) as exc:
        raise IndexLoadError(f"{path}: cannot read id map ({exc})") from exc
    return {c: [str(v) for v in table.column(c).to_pylist()] for c in IDMAP_COLUMNS}


def _load_bm25(bm25_dir: Path) -> tuple[bm25s.BM25, Tokenizer]:
    import bm25s

    cfg_path = bm25_dir / LEXICAL_CONFIG_FILE
    try:
        config = LexicalConfig.from_json(cfg_path.read_text("utf-8"))
        model = bm25s.BM25.load(str(bm25_dir), show_progress=False, verbosity=0)
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{bm25_dir}: cannot load lexical index ({exc})") from exc
    return model, Tokenizer(config)


def load_index(
    version_dir: Path,
    *,
    expected_model: str | None = None,
    verify: bool = True,
    expected_dimension: int | None = None,
    fusion: FusionParams = DEFAULT_FUSION,
) -> LoadedIndex:
    """Load one version directory, refusing it unless it verifies against its manifest."""
    import faiss

    version_dir = Path(version_dir)
    manifest = read_manifest(version_dir)
    if expected_model is not None and manifest.embedding_model != expected_model:
        raise IndexLoadError(
            f"{version_dir}: index was built with embedding model {manifest.embedding_model!r}, "
            f"this process embeds with {expected_model!r}"
        )
    if expected_dimension is not None and manifest.dimension != expected_dimension:
        raise IndexLoadError(
            f"{version_dir}: index dimension {manifest.dimension}, encoder gives "
            f"{expected_dimension}"
        )
    if verify:
        verify_artifacts(version_dir, manifest)
    try:
        index = faiss.read_index(str(version_dir / FAISS_FILE))
    except RuntimeError as exc:
        raise IndexLoadError(f"{version_dir}: cannot read FAISS index ({exc})") from exc
    if index.d != manifest.dimension:
        raise IndexLoadError(
            f"{version_dir}: FAISS dimension {index.d}, manifest says {manifest.dimension}"
        )
    if index.ntotal != manifest.vector_count:
        raise IndexLoadError(
            f"{version_dir}: FAISS holds {index.ntotal} vectors, manifest says "
            f"{manifest.vector_count}"
        )
    ids = _read_ids(version_dir / IDMAP_FILE)
    if len(ids["chunk_id"]) != index.ntotal:
        raise IndexLoadError(
            f"{version_dir}: id map has {len(ids['chunk_id'])} rows, FAISS has {index.ntotal}"
        )
    bm25 = tokenizer = None
    if manifest.lexical == "bm25":
        bm25, tokenizer = _load_bm25(version_dir / BM25_DIR)
    log.info(
        "index loaded version=%s vectors=%d lexical=%s",
        manifest.index_version,
        index.ntotal,
        manifest.lexical,
    )
    return LoadedIndex(manifest, index, ids, bm25, tokenizer, fusion=fusion)


def read_live_version(indexes_dir: Path) -> str | None:
    """The version named by ``indexes/LIVE``, or None when nothing is live yet."""
    path = Path(indexes_dir) / LIVE_POINTER
    try:
        name = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None
