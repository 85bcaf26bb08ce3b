"""Retrieval quality on the whole SQuAD v1.1 dev set: dense, BM25, RRF and the default hybrid.

Two corpora:
* ``paragraphs`` — each of the 2,067 paragraphs is one chunk (the issue's reference setting);
* ``pipeline`` — the default pipeline: ``batch.ingest`` (token chunks with overlap), the
  bundled encoder on every chunk (the same model the Spark job runs), ``write_index_version``
  and ``batch.evaluate`` (document level, chunk hits mapped to paragraphs).

Usage: ``.venv/bin/python bench/quality.py [--corpus paragraphs|pipeline|both] [--cache DIR]``
(``--cache`` keeps encoded vectors between runs; encoding dominates the run time).

``--fusion-split`` re-tunes the hybrid's dense weight ``w`` on the questions of one half of the
articles (``tune``: even positions in the file) and reports recall on the other half (``test``),
so the published recall is not measured on the set the weight was chosen on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from batch.corpus import locate_demo_corpus
from batch.evaluate import (
    CHUNK_DEPTH,
    EVAL_DEPTH,
    first_relevant_rank,
    score_ranks,
)
from batch.labelled import iter_squad_paragraphs, read_labelled, read_squad
from batch.settings import BatchSettings
from core.encoder import TextEncoder, get_encoder
from core.index import LoadedIndex, load_index
from core.index.search import _minmax, _top_n
from core.index.writer import write_index_version
from shared_schemas.documents import Chunk

COLS = ["chunk_id", "doc_id", "title", "text", "content_hash"]


def encode_cached(enc: TextEncoder, texts: list[str], cache: Path | None, name: str) -> np.ndarray:
    if cache is not None:
        path = cache / f"{name}-{len(texts)}.npy"
        if path.exists():
            return np.load(path)
    t0 = time.perf_counter()
    vecs = enc.encode(texts, batch_size=64)
    print(f"  encoded {len(texts)} {name} in {time.perf_counter() - t0:.1f}s", flush=True)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{name}-{len(texts)}.npy", vecs)
    return vecs


def paragraph_table(squad: Path) -> pa.Table:
    paras = list(iter_squad_paragraphs(read_squad(squad)))
    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paras]
    return pa.table({c: [getattr(ch, c) for ch in chunks] for c in COLS})


def pipeline_table(squad: Path, settings: BatchSettings) -> pa.Table:
    import pyarrow.parquet as pq

    from batch.ingest.run import ingest

    ingest(squad, run_date=date(2024, 1, 1), settings=settings)
    return pq.read_table(settings.snapshots_dir / "2024-01-01" / "chunks.parquet")


def rrf_rows(index: LoadedIndex, vec: np.ndarray, text: str, n: int, k: int = 60) -> list[int]:
    d_rows, _ = index.dense_search(vec, n)
    l_rows, _ = index.lexical_search(text, n)
    score: dict[int, float] = {}
    for rows in (d_rows, l_rows):
        for rank, r in enumerate(rows.tolist(), start=1):
            score[r] = score.get(r, 0.0) + 1.0 / (k + rank)
    return sorted(score, key=lambda r: -score[r])


def measure(index: LoadedIndex, squad: Path, qvecs: np.ndarray) -> None:
    questions = read_labelled(squad)
    doc_of = index._doc_ids  # row -> doc id
    ranks: dict[str, list[int | None]] = {"dense": [], "bm25": [], "rrf60": [], "hybrid": []}
    t_hybrid = 0.0
    for q, vec in zip(questions, qvecs, strict=True):
        d_rows, _ = index.dense_search(vec, CHUNK_DEPTH)
        l_rows, _ = index.lexical_search(q.question, CHUNK_DEPTH)
        t0 = time.perf_counter()
        hits = index.search(vec, q.question, CHUNK_DEPTH)
        t_hybrid += time.perf_counter() - t0
        rel = q.relevant_doc_ids
        ranks["dense"].append(first_relevant_rank([doc_of[r] for r in d_rows], rel, EVAL_DEPTH))
        ranks["bm25"].append(first_relevant_rank([doc_of[r] for r in l_rows], rel, EVAL_DEPTH))
        rrf = rrf_rows(index, vec, q.question, CHUNK_DEPTH)
        ranks["rrf60"].append(first_relevant_rank([doc_of[r] for r in rrf], rel, EVAL_DEPTH))
        ranks["hybrid"].append(first_relevant_rank([h.doc_id for h in hits], rel, EVAL_DEPTH))
    print(f"  {len(questions)} questions, {len(index)} chunks")
    print("  | retriever | recall@1 | recall@5 | recall@10 | MRR |")
    print("  |---|---|---|---|---|")
    for name, rs in ranks.items():
        r1, r5, r10, mrr = score_ranks(rs)
        print(f"  | {name} | {r1:.4f} | {r5:.4f} | {r10:.4f} | {mrr:.4f} |")
    print(
        f"  default hybrid search: {1000 * t_hybrid / len(questions):.2f} ms/question", flush=True
    )


def article_positions(squad: Path) -> dict[str, int]:
    from batch.ingest.squad import squad_articles

    return {
        str(a.get("title") or f"article-{i}"): i
        for i, a in enumerate(squad_articles(read_squad(squad)))
    }


def fusion_split(index: LoadedIndex, squad: Path, qvecs: np.ndarray) -> None:
    """Tune the dense weight on the ``tune`` half (best MRR), report both halves at each w."""
    from batch.answer_sample import article_half

    questions = read_labelled(squad)
    pos = article_positions(squad)
    doc_of = index._doc_ids
    cand = index.fusion.candidates
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    halves: list[str] = []
    for q, vec in zip(questions, qvecs, strict=True):
        (gold,) = q.relevant_doc_ids
        halves.append(article_half(pos[gold.rsplit("#", 1)[0]]))
        d_rows, _ = index.dense_search(vec, cand)
        all_bm25 = index.lexical_scores(q.question)
        assert all_bm25 is not None
        l_rows, _ = _top_n(all_bm25, cand)
        rows = np.union1d(d_rows, l_rows)
        dense = index._dense_scores_for(vec, rows)
        assert dense is not None
        parts.append((rows, _minmax(dense), _minmax(all_bm25[rows])))

    def ranks_at(w: float, half: str) -> list[int | None]:
        out: list[int | None] = []
        for (rows, d, lex), q, h in zip(parts, questions, halves, strict=True):
            if h != half:
                continue
            order = np.argsort(-(w * d + (1.0 - w) * lex), kind="stable")[:CHUNK_DEPTH]
            docs = [doc_of[int(rows[i])] for i in order]
            out.append(first_relevant_rank(docs, q.relevant_doc_ids, EVAL_DEPTH))
        return out

    # the replica of the fusion is the served one: same documents as index.search at w 0.5
    for q, vec, (rows, d, lex) in list(zip(questions, qvecs, parts, strict=True))[:200]:
        served = [h.doc_id for h in index.search(vec, q.question, CHUNK_DEPTH)]
        order = np.argsort(-(0.5 * d + 0.5 * lex), kind="stable")[:CHUNK_DEPTH]
        assert [doc_of[int(rows[i])] for i in order] == served, q.question
    grid = [round(0.05 * i, 2) for i in range(21)]
    table = {(w, h): score_ranks(ranks_at(w, h)) for w in grid for h in ("tune", "test")}
    n_tune, n_test = halves.count("tune"), halves.count("test")
    print(f"  fusion split: tune {n_tune} questions, test {n_test} (articles by position)")
    print(
        "  | w (dense) | tune r@1 | tune r@5 | tune MRR "
        "| test r@1 | test r@5 | test r@10 | test MRR |"
    )
    print("  |---|---|---|---|---|---|---|---|")
    for w in grid:
        t, h = table[(w, "tune")], table[(w, "test")]
        print(
            f"  | {w:.2f} | {t[0]:.4f} | {t[1]:.4f} | {t[3]:.4f} "
            f"| {h[0]:.4f} | {h[1]:.4f} | {h[2]:.4f} | {h[3]:.4f} |"
        )
    best = max(grid, key=lambda w: (table[(w, "tune")][3], table[(w, "tune")][1]))
    default = index.fusion.dense_weight
    for label, w in (("tuned on tune half", best), ("default", default)):
        h = table[(w, "test")]
        print(
            f"  held-out test half at w={w:.2f} ({label}): recall@1 {h[0]:.4f} "
            f"recall@5 {h[1]:.4f} recall@10 {h[2]:.4f} MRR {h[3]:.4f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", choices=["paragraphs", "pipeline", "both"], default="both")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--fusion-split", action="store_true", help="tune w on one half, report other")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="tandem-quality-"))
    settings = BatchSettings(data_dir=work)
    squad = locate_demo_corpus(None, data_dir=work)
    enc = get_encoder()
    questions = [q.question for q in read_labelled(squad)]
    qvecs = encode_cached(enc, questions, args.cache, "questions")
    kinds = ["paragraphs", "pipeline"] if args.corpus == "both" else [args.corpus]
    for kind in kinds:
        print(f"corpus: {kind}", flush=True)
        table = paragraph_table(squad) if kind == "paragraphs" else pipeline_table(squad, settings)
        texts = [str(t) for t in table.column("text").to_pylist()]
        vecs = encode_cached(enc, texts, args.cache, f"{kind}-chunks")
        t0 = time.perf_counter()
        m = write_index_version(
            table,
            vecs,
            indexes_dir=settings.indexes_dir,
            embedding_model=settings.embedding_model,
            source_snapshot=kind,
            version=f"quality-{kind}",
        )
        print(f"  index built in {time.perf_counter() - t0:.2f}s ({m.faiss_factory})")
        index = load_index(settings.indexes_dir / m.index_version, expected_model=enc_model())
        measure(index, squad, qvecs)
        if args.fusion_split:
            fusion_split(index, squad, qvecs)


def enc_model() -> str:
    return BatchSettings().embedding_model


if __name__ == "__main__":
    main()
