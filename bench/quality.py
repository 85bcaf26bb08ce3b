"""Retrieval quality on the whole SQuAD v1.1 dev set: dense, BM25, RRF and the default hybrid.

Two corpora:
* ``paragraphs`` — each of the 2,067 paragraphs is one chunk (the issue's reference setting);
* ``pipeline`` — the default pipeline: ``batch.ingest`` (token chunks with overlap), the
  bundled encoder on every chunk (the same model the Spark job runs), ``write_index_version``
  and ``batch.evaluate`` (document level, chunk hits mapped to paragraphs).

Usage: ``.venv/bin/python bench/quality.py [--corpus paragraphs|pipeline|both] [--cache DIR]``
(``--cache`` keeps encoded vectors between runs; encoding dominates the run time).
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
from core.encoder import Encoder, get_encoder
from core.index import LoadedIndex, load_index
from core.index.writer import write_index_version
from shared_schemas.documents import Chunk

COLS = ["chunk_id", "doc_id", "title", "text", "content_hash"]


def encode_cached(enc: Encoder, texts: list[str], cache: Path | None, name: str) -> np.ndarray:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", choices=["paragraphs", "pipeline", "both"], default="both")
    ap.add_argument("--cache", type=Path, default=None)
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


def enc_model() -> str:
    return BatchSettings().embedding_model


if __name__ == "__main__":
    main()
