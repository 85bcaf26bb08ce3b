"""FAISS index choice at scale, on synthetic 384-d vectors (issue 11 item 4).

Builds, with the project's own builder (``core.index.writer.build_faiss``, inner product), an
exact ``Flat`` index (the baseline) and three approximate ones on the same vectors:

- ``IVF<n>,Flat`` — what ``choose_factory`` picks beyond ``TANDEM_EXACT_INDEX_MAX``;
- ``IVF<n>,PQ48`` — product-quantised lists (48 bytes a vector; built like ``build_faiss``
  but without polysemous training, see :func:`build_ivfpq`);
- ``HNSW32`` — a graph (M=32, efConstruction 40).

and prints, for each: build time (train + add), memory (the serialised index, which is what a
replica holds in RAM and downloads), recall@10 against Flat, and query time per question.

The vectors are clustered, as sentence embeddings are (a mixture of ``--clusters`` Gaussian
centres with noise, L2-normalised): uniform random vectors have no neighbourhood structure and
would understate every approximate index. Queries are drawn from the same mixture and split in
two halves: the search parameter (``nprobe``, ``efSearch``) is chosen on the tune half as the
smallest reaching ``--target`` recall@10 (else the largest tried); figures are reported on the
other half. Query timing: ``--runs`` repetitions over the report half, single-threaded (one
request's cost), median with min-max; ratios are against Flat timed the same way.

    nice .venv/bin/python bench/bench_faiss_scale.py --n 100000 --build-threads 2
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.index.writer import _training_sample, build_faiss, choose_factory  # noqa: E402

DIM = 384
K = 10
MB = 1024 * 1024


def synthetic(n: int, n_queries: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` base and ``n_queries`` query vectors from one clustered, normalised mixture."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, DIM), dtype=np.float32)
        for start in range(0, count, 50_000):
            stop = min(count, start + 50_000)
            which = rng.integers(0, clusters, stop - start)
            noise = rng.standard_normal((stop - start, DIM)).astype(np.float32)
            out[start:stop] = centres[which] + 0.9 * noise
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    return draw(n), draw(n_queries)


def build_ivfpq(x: np.ndarray, factory: str) -> Any:
    """``build_faiss`` for an IVF-PQ factory, without FAISS's polysemous training (on by default
    for IVFPQ: with it, the IVF512,PQ48 build took 454 s at 20k vectors here; it only serves
    Hamming pre-filtering, which this search does not use)."""
    import faiss

    index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    ivf.do_polysemous_training = False
    index.train(_training_sample(x, factory))
    index.add(x)
    ivf.nprobe = min(ivf.nlist, max(8, ivf.nlist // 16))
    return index


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def set_param(index: Any, name: str, value: int) -> None:
    import faiss

    faiss.ParameterSpace().set_index_parameter(index, name, value)


def time_queries(index: Any, queries: np.ndarray, runs: int) -> tuple[list[float], np.ndarray]:
    """Milliseconds per query of each run (one thread, one batch of all queries)."""
    per_query: list[float] = []
    ids = np.empty(0)
    for _ in range(runs):
        t0 = time.perf_counter()
        _, ids = index.search(queries, K)
        per_query.append((time.perf_counter() - t0) * 1000 / len(queries))
    return per_query, ids


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="base vectors")
    parser.add_argument(
        "--queries", type=int, default=1000, help="queries (half tune, half report)"
    )
    parser.add_argument(
        "--clusters", type=int, default=0, help="mixture centres (0: n/20, ~20 vectors each)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed query runs per index")
    parser.add_argument("--target", type=float, default=0.95, help="recall@10 to reach on tune")
    parser.add_argument("--build-threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss

    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    print(f"faiss {faiss.__version__}, n={args.n:,}, dim={DIM}, k={K}, pid {os.getpid()}")
    clusters = args.clusters or max(1, args.n // 20)
    base, queries = synthetic(args.n, args.queries, clusters, args.seed)
    tune, report = queries[: args.queries // 2], queries[args.queries // 2 :]
    nlist = int(choose_factory(args.n, exact_max=0).removeprefix("IVF").split(",")[0])
    nlist = max(nlist, 16)
    cases: list[tuple[str, str | None, list[int]]] = [
        ("Flat", None, []),
        (f"IVF{nlist},Flat", "nprobe", [4, 8, 16, 32, 64, 128]),
        (f"IVF{nlist},PQ48", "nprobe", [4, 8, 16, 32, 64, 128]),
        ("HNSW32", "efSearch", [16, 32, 64, 128, 256]),
    ]
    truth: dict[str, np.ndarray] = {}
    flat_ms: list[float] = []
    flat_build = 0.0
    rows = []
    for factory, param, grid in cases:
        faiss.omp_set_num_threads(args.build_threads)
        t0 = time.perf_counter()
        index = build_ivfpq(base, factory) if ",PQ" in factory else build_faiss(base, factory)[0]
        build_s = time.perf_counter() - t0
        memory = faiss.serialize_index(index).nbytes
        faiss.omp_set_num_threads(1)
        chosen = None
        if param is None:
            _, truth["tune"] = index.search(tune, K)
            _, truth["report"] = index.search(report, K)
        else:
            for value in grid:
                set_param(index, param, value)
                _, found = index.search(tune, K)
                chosen = value
                if recall_at_k(found, truth["tune"]) >= args.target:
                    break
            assert chosen is not None
            set_param(index, param, chosen)
        ms, found = time_queries(index, report, args.runs)
        recall = recall_at_k(found, truth["report"])
        if param is None:
            flat_ms, flat_build = ms, build_s
        rows.append((factory, param, chosen, build_s, memory, recall, ms))
        print(
            f"{factory:>18}: build {build_s:8.1f} s, memory {memory / MB:8.1f} MB "
            f"({memory / args.n:6.1f} B/vector), recall@10 {recall:.4f}"
            + (f" at {param}={chosen}" if param else "")
            + f", query {fmt(ms)} ms",
            flush=True,
        )
        del index

    print(
        "\n| index | search setting | build s | memory MB | bytes/vector | recall@10 vs Flat "
        "| ms/query median (min-max) | query time vs Flat |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for factory, param, chosen, build_s, memory, recall, ms in rows:
        setting = f"{param} {chosen}" if param else "exact"
        ratio = statistics.median(ms) / statistics.median(flat_ms)
        print(
            f"| {factory} | {setting} | {build_s:.1f} | {memory / MB:.1f} | {memory / args.n:.0f} "
            f"| {recall:.4f} | {fmt(ms)} | {ratio:.3f}x |"
        )
    print(
        f"\nFlat build {flat_build:.1f} s; {args.runs} timed runs of {len(report)} queries, one "
        f"thread; parameters tuned on {len(tune)} other queries (target {args.target})."
    )
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    per_million = 1_000_000 / args.n
    print(
        "memory scaled to 1M vectors: "
        + ", ".join(f"{f} {m * per_million / MB:.0f} MB" for f, _, _, _, m, _, _ in rows)
    )
    return 0 if math.isfinite(flat_build) else 1


if __name__ == "__main__":
    sys.exit(main())
