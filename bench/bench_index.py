"""Index build throughput against raw FAISS with the same parameters, and peak RSS.

Measured side by side in one run, alternating, median of ``--repeats``:
* ``faiss step``: ``batch.index.build.build_faiss`` (factory, GPU switch, training sample,
  nprobe) vs raw ``faiss.index_factory`` + ``train`` + ``add`` on the same vectors;
* ``whole version``: ``write_index_version`` (FAISS + index file + id map Parquet + bm25s
  lexical index + sha256 of every file + manifest + rename) vs the raw FAISS build plus
  ``faiss.write_index``;
* peak RSS of a whole-version build, measured in a child process (``ru_maxrss``).

Vectors are random unit vectors (dimension 384, like all-MiniLM-L6-v2); texts are SQuAD dev
paragraphs cycled to the vector count (they only feed the lexical side).

Usage: ``.venv/bin/python bench/bench_index.py [--n 100000] [--factory IVF1024,Flat]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch.labelled import iter_squad_paragraphs, read_squad
from batch.settings import BatchSettings
from core.index.writer import build_faiss, write_index_version
from shared_schemas.hashing import chunk_id_for, content_hash

DIM = 384


def vectors(n: int) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def table(n: int) -> pa.Table:
    from batch.corpus import locate_demo_corpus

    squad = locate_demo_corpus(None, data_dir=Path(tempfile.gettempdir()))
    paras = list(iter_squad_paragraphs(read_squad(squad)))
    rows = [paras[i % len(paras)] for i in range(n)]
    doc_ids = [f"{p.doc_id}/{i}" for i, p in enumerate(rows)]
    texts = [p.text for p in rows]
    return pa.table(
        {
            "chunk_id": [chunk_id_for(d, t) for d, t in zip(doc_ids, texts, strict=True)],
            "doc_id": doc_ids,
            "title": [p.title for p in rows],
            "text": texts,
            "content_hash": [content_hash(t) for t in texts],
        }
    )


def raw_faiss(x: np.ndarray, factory: str) -> object:
    import faiss

    index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(x)
    index.add(x)
    return index


def build_version(t: pa.Table, x: np.ndarray, s: BatchSettings) -> None:
    write_index_version(
        t,
        x,
        indexes_dir=s.indexes_dir,
        embedding_model=s.embedding_model,
        factory=s.faiss_factory,
        source_snapshot="bench",
    )


def timed(fn: object, *args: object) -> float:
    t0 = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - t0


def child_rss(n: int, factory: str) -> None:
    """Run one whole-version build and print this process's peak RSS (MiB)."""
    x, t = vectors(n), table(n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as d:
        s = BatchSettings(data_dir=Path(d), faiss_factory=factory)
        write_index_version(
            t,
            x,
            indexes_dir=s.indexes_dir,
            embedding_model=s.embedding_model,
            factory=s.faiss_factory,
            source_snapshot="bench",
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{before / 1024:.0f} {peak / 1024:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--factory", default="IVF1024,Flat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_rss:
        child_rss(args.n, args.factory)
        return
    import faiss

    x = vectors(args.n)
    t = table(args.n)
    print(
        f"n={args.n} dim={DIM} factory={args.factory} faiss={faiss.__version__} "
        f"gpus={faiss.get_num_gpus()} cores={os.cpu_count()}"
    )
    ours_f, raw_f, ours_v, raw_v = [], [], [], []
    for _ in range(args.repeats):
        raw_f.append(timed(raw_faiss, x, args.factory))
        ours_f.append(timed(build_faiss, x, args.factory))
        with tempfile.TemporaryDirectory() as d:
            s = BatchSettings(data_dir=Path(d), faiss_factory=args.factory)

            def raw_version() -> None:
                faiss.write_index(raw_faiss(x, args.factory), str(Path(d) / "raw.faiss"))

            raw_v.append(timed(raw_version))
            ours_v.append(timed(build_version, t, x, s))
    med = statistics.median
    print(
        f"faiss step:    ours {med(ours_f):.2f}s  raw {med(raw_f):.2f}s  "
        f"throughput ratio {med(raw_f) / med(ours_f):.2f}x"
    )
    print(
        f"whole version: ours {med(ours_v):.2f}s  raw faiss+write {med(raw_v):.2f}s  "
        f"throughput ratio {med(raw_v) / med(ours_v):.2f}x"
    )
    out = subprocess.run(
        [sys.executable, __file__, "--child-rss", "--n", str(args.n), "--factory", args.factory],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    print(
        f"peak RSS whole-version build: {out[1]} MiB (inputs loaded: {out[0]} MiB; "
        f"vectors alone {x.nbytes / 2**20:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
