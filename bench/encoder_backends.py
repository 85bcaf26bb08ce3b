"""Encoder backends side by side (issue 15, item 1): torch vs ONNX fp32 vs ONNX int8.

Run by ``python bench/bench_embed.py --backends``. On the whole SQuAD v1.1 dev set ingested as
the pipeline does (token chunks, 200 tokens / 40 overlap) and its 10,570 questions:

1. throughput: every backend encodes the same sample of chunks and of questions, ``--repeats``
   rounds interleaved (torch, onnx, onnx-int8, torch, ...) so a change in the machine's load
   falls on all of them; each figure is the median of the rounds with the spread (min-max),
   and the ratio is the median backend rate over the median torch rate;
2. quality: every chunk and every question encoded once per backend, an index version built from
   each (FAISS + BM25, as published), recall@1/5 of the dense retriever and of the default
   hybrid on all questions, document level (as ``tandem eval``);
3. agreement: cosine of each backend's vectors with torch's, row by row (min and mean).

The throughput table is printed as soon as the timing is done; ``--no-quality`` stops there.

Every backend runs on the same thread count (``--threads``, default: the usable CPUs): torch via
``torch.set_num_threads``, ONNX Runtime via ``intra_op_num_threads``. The load average is
printed before and after.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from shared_schemas.config import EncoderBackend

BACKENDS: tuple[EncoderBackend, ...] = ("torch", "onnx", "onnx-int8")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _rate(encoder: Any, texts: list[str], batch_size: int) -> float:
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - t0)


def _spread(rates: list[float]) -> str:
    return f"{statistics.median(rates):8.1f}/s ({min(rates):.1f}-{max(rates):.1f})"


def compare_backends(
    *,
    repeats: int,
    chunk_sample: int,
    question_sample: int,
    batch_size: int,
    threads: int,
    quality: bool = True,
) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import pyarrow.parquet as pq
    import torch

    from batch.corpus import locate_demo_corpus
    from batch.evaluate import CHUNK_DEPTH, EVAL_DEPTH, first_relevant_rank, score_ranks
    from batch.ingest.run import ingest
    from batch.ingest.snapshot import CHUNKS_FILE
    from batch.labelled import read_labelled
    from batch.settings import BatchSettings
    from core.encoder import get_encoder
    from core.index import load_index
    from core.index.writer import write_index_version
    from shared_schemas.config import backend_model_id

    torch.set_num_threads(threads)
    work = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    settings = BatchSettings(data_dir=work / "var")
    squad = locate_demo_corpus(None, data_dir=Path(tempfile.gettempdir()))
    run_date = date(2024, 6, 1)
    ingest(squad, run_date=run_date, settings=settings)
    table = pq.read_table(settings.snapshots_dir / run_date.isoformat() / CHUNKS_FILE)
    chunks = table["text"].to_pylist()
    questions = read_labelled(squad)
    qtexts = [q.question for q in questions]
    step_c = max(1, len(chunks) // chunk_sample)
    step_q = max(1, len(qtexts) // question_sample)
    c_sample, q_sample = chunks[::step_c][:chunk_sample], qtexts[::step_q][:question_sample]
    print(
        f"whole dev set: {len(chunks)} chunks, {len(qtexts)} questions; timed samples: "
        f"{len(c_sample)} chunks, {len(q_sample)} questions; {repeats} rounds; "
        f"threads {threads}; batch {batch_size}"
    )
    print(f"cores: {os.cpu_count()}, load average before: {loadavg()}")
    encoders: dict[str, Any] = {}
    for backend in BACKENDS:
        t0 = time.perf_counter()
        encoders[backend] = get_encoder(
            device="cpu",
            backend=backend,
            cache_dir=BatchSettings().encoders_dir,  # the project's cache, reused across runs
        )
        encoders[backend].encode(c_sample[:8], batch_size=batch_size)  # warm-up
        print(f"  {backend:10s} ready in {time.perf_counter() - t0:5.1f} s (export included)")
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for backend in BACKENDS:
            enc = encoders[backend]
            rates.setdefault((backend, "chunks"), []).append(_rate(enc, c_sample, batch_size))
            rates.setdefault((backend, "questions"), []).append(_rate(enc, q_sample, batch_size))
    print(f"load average after timing: {loadavg()}")
    t_c = statistics.median(rates[("torch", "chunks")])
    t_q = statistics.median(rates[("torch", "questions")])
    print(
        "\n| backend | chunks/s median (min-max) | x torch "
        "| questions/s median (min-max) | x torch |"
    )
    print("|---|---|---|---|---|")
    for backend in BACKENDS:
        rc, rq = rates[(backend, "chunks")], rates[(backend, "questions")]
        print(
            f"| {backend} | {_spread(rc)} | {statistics.median(rc) / t_c:.2f}x "
            f"| {_spread(rq)} | {statistics.median(rq) / t_q:.2f}x |"
        )
    if not quality:
        return
    print(
        "\n| backend | dense r@1 | dense r@5 | hybrid r@1 | hybrid r@5 | cos vs torch min / mean |"
    )
    print("|---|---|---|---|---|---|")
    scores: dict[str, tuple[float, ...]] = {}
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for backend in BACKENDS:
        enc = encoders[backend]
        cvec = enc.encode(chunks, batch_size=batch_size)
        qvec = enc.encode(qtexts, batch_size=batch_size)
        vectors[backend] = (cvec, qvec)
        model_id = backend_model_id("sentence-transformers/all-MiniLM-L6-v2", backend)
        manifest = write_index_version(
            table,
            cvec,
            indexes_dir=work / backend,
            embedding_model=model_id,
            source_snapshot=run_date.isoformat(),
            run_date=run_date,
        )
        index = load_index(work / backend / manifest.index_version, expected_model=model_id)
        figures: list[float] = []
        for lexical in (False, True):
            ranks = []
            for q, vec in zip(questions, qvec, strict=True):
                hits = index.search(vec, q.question, CHUNK_DEPTH, lexical=lexical)
                docs = [h.doc_id for h in hits]
                ranks.append(first_relevant_rank(docs, q.relevant_doc_ids, EVAL_DEPTH))
            r1, r5, _, _ = score_ranks(ranks)
            figures += [r1, r5]
        scores[backend] = tuple(figures)
        cos = np.concatenate(
            [(vectors[backend][i] * vectors["torch"][i]).sum(axis=1) for i in range(2)]
        )
        d1, d5, h1, h5 = figures
        print(
            f"| {backend} | {d1:.4f} | {d5:.4f} | {h1:.4f} | {h5:.4f} "
            f"| {cos.min():.4f} / {cos.mean():.5f} |"
        )
    print(f"load average after quality: {loadavg()}")
    for backend in BACKENDS[1:]:
        d5 = scores[backend][1] - scores["torch"][1]
        h5 = scores[backend][3] - scores["torch"][3]
        print(f"{backend}: recall@5 vs torch: dense {d5:+.4f}, hybrid {h5:+.4f} (goal: +-0.005)")
    print(f"work dir: {work}")
