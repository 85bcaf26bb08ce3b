"""Benchmark of the Spark embed job (issue 3, item 7), measured side by side in one run.

1. raw ``model.encode`` in this process on the chunk texts of a SQuAD slice (the baseline),
   timed before and after the Spark runs, the faster run counting (the machine is shared);
2. the same texts through the Spark job in a warm session (workers already hold the model):
   sentences/s against the baseline, goal >= 0.8x;
3. the job as it runs from the CLI/Airflow, a fresh process (``python -m batch.embed.spark_job``):
   a full run, then an incremental run after editing 1% of the documents; goal: the
   incremental run takes <= 10% of the full run's time. Also the same pair in the warm session;
4. peak RSS of each job process tree (driver, JVM, Python workers), sampled every 0.1 s.

Usage: ``python bench/bench_embed.py [--paragraphs 600] [--change 0.01]``; prints figures.

``--backends``: the encoder backends side by side instead (torch vs ONNX fp32 vs ONNX int8:
throughput on chunks and on questions, recall@5 on the whole dev set; see
``bench/encoder_backends.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psutil

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FULL, EDITED = date(2024, 6, 1), date(2024, 6, 2)


class PeakRss:
    """Samples the summed RSS of a process and its descendants in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class JobRun:
    wall_s: float
    peak_rss_mb: float
    report: dict[str, Any]


def squad_slice(n_paragraphs: int) -> dict[str, Any]:
    import gzip

    from batch.corpus import locate_demo_corpus

    path = locate_demo_corpus(None, data_dir=Path(tempfile.gettempdir()))
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open() as fh:
        data = json.load(fh)
    articles, left = [], n_paragraphs
    for article in data["data"]:
        if left <= 0:
            break
        take = article["paragraphs"][:left]
        articles.append({"title": article["title"], "paragraphs": take})
        left -= len(take)
    return {"version": "1.1", "data": articles}


def edit_fraction(squad: dict[str, Any], fraction: float) -> tuple[dict[str, Any], int]:
    """A copy with ``fraction`` of the paragraphs (evenly spread) given an extra sentence."""
    paragraphs = [p for a in squad["data"] for p in a["paragraphs"]]
    n = max(1, round(len(paragraphs) * fraction))
    step = len(paragraphs) // n
    edited = json.loads(json.dumps(squad))
    flat = [p for a in edited["data"] for p in a["paragraphs"]]
    for i in range(0, step * n, step):
        flat[i]["context"] += " This paragraph was revised for the benchmark."
    return edited, n


def run_job(data_dir: Path, day: date) -> JobRun:
    env = dict(os.environ, TANDEM_DATA_DIR=str(data_dir), TANDEM_LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "batch.embed.spark_job", "--date", day.isoformat()]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with PeakRss(proc.pid) as rss:
        out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return JobRun(wall, rss.peak / 2**20, json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=600)
    parser.add_argument("--change", type=float, default=0.01, help="Fraction of docs edited.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--fresh-only",
        action="store_true",
        help="Only the fresh-process full and incremental jobs (for large slices).",
    )
    parser.add_argument(
        "--backends", action="store_true", help="Compare encoder backends (torch, onnx, int8)."
    )
    parser.add_argument("--repeats", type=int, default=5, help="--backends: timed rounds.")
    parser.add_argument("--chunk-sample", type=int, default=256, help="--backends: chunks timed.")
    parser.add_argument("--question-sample", type=int, default=1024, help="--backends.")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--no-quality", action="store_true", help="--backends: throughput only (no recall)."
    )
    args = parser.parse_args()
    if args.backends:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from encoder_backends import compare_backends

        compare_backends(
            repeats=args.repeats,
            chunk_sample=args.chunk_sample,
            question_sample=args.question_sample,
            batch_size=args.batch_size,
            threads=args.threads,
            quality=not args.no_quality,
        )
        return

    import pyarrow.parquet as pq

    from batch.embed.run import embed_snapshot
    from batch.embed.spark_session import get_spark
    from batch.ingest.run import ingest
    from batch.ingest.snapshot import CHUNKS_FILE
    from batch.settings import BatchSettings
    from core.encoder import get_encoder

    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    squad = squad_slice(args.paragraphs)
    edited, n_edited = edit_fraction(squad, args.change)
    (work / "full.json").write_text(json.dumps(squad))
    (work / "edited.json").write_text(json.dumps(edited))

    def prepare(name: str) -> BatchSettings:
        settings = BatchSettings(data_dir=work / name, embed_batch_size=args.batch_size)
        ingest(work / "full.json", run_date=FULL, settings=settings)
        ingest(work / "edited.json", run_date=EDITED, settings=settings)
        return settings

    cold = prepare("cold")
    chunks = pq.read_table(cold.snapshots_dir / FULL.isoformat() / CHUNKS_FILE)
    texts = chunks["text"].to_pylist()
    n = len(texts)
    print(f"slice: {args.paragraphs} paragraphs -> {n} chunks; edited {n_edited} documents")
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")
    if args.fresh_only:
        full_job = run_job(cold.data_dir, FULL)
        inc_job = run_job(cold.data_dir, EDITED)
        report_fresh(full_job, inc_job)
        return
    warm_a, warm_b = prepare("warm-a"), prepare("warm-b")

    # 1. baseline: raw encode in this process (model loaded and warmed first)
    encoder = get_encoder(device="cpu")
    encoder.encode(texts[:16], batch_size=args.batch_size)
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=args.batch_size)
    raw_s = time.perf_counter() - t0
    raw_rate = n / raw_s
    print(f"raw model.encode:             {raw_s:7.2f} s  {raw_rate:7.1f} sentences/s")

    # 3. fresh-process jobs, as the CLI and Airflow run them
    full_job = run_job(cold.data_dir, FULL)
    inc_job = run_job(cold.data_dir, EDITED)

    # 2. warm session: first run loads the model in the workers, the second finds it loaded
    t0 = time.perf_counter()
    spark = get_spark(warm_a)
    session_s = time.perf_counter() - t0
    first = embed_snapshot(FULL, settings=warm_a, spark=spark)
    second = embed_snapshot(FULL, settings=warm_b, spark=spark)
    inc_warm = embed_snapshot(EDITED, settings=warm_b, spark=spark)
    spark.stop()
    # the machine is shared: measure the baseline again and compare against its best run
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=args.batch_size)
    raw_after_s = time.perf_counter() - t0
    print(f"raw model.encode (again):     {raw_after_s:7.2f} s  {n / raw_after_s:7.1f} sentences/s")
    raw_s = min(raw_s, raw_after_s)
    raw_rate = n / raw_s
    print(f"baseline (best raw run):      {raw_s:7.2f} s  {raw_rate:7.1f} sentences/s")
    warm_rate = second.embedded / second.encode_s
    cold_rate = first.embedded / first.encode_s

    print(f"spark session start:          {session_s:7.2f} s")
    print(
        f"spark, workers cold:          {first.encode_s:7.2f} s  {cold_rate:7.1f} sentences/s"
        f"  ({cold_rate / raw_rate:.2f}x raw; includes worker start + model load)"
    )
    print(
        f"spark, workers warm:          {second.encode_s:7.2f} s  {warm_rate:7.1f} sentences/s"
        f"  ({warm_rate / raw_rate:.2f}x raw; goal >= 0.8x)   partitions={second.partitions}"
    )
    print(
        f"incremental, warm session:    {inc_warm.elapsed_s:7.2f} s  ({inc_warm.embedded} chunks)"
        f"  = {inc_warm.elapsed_s / second.elapsed_s:.1%} of the warm full run"
        f" ({second.elapsed_s:.2f} s; goal <= 10%)"
    )
    report_fresh(full_job, inc_job)
    print(f"model loads per worker (warm session): {second.model_loads}")
    print(f"work dir: {work}")


def report_fresh(full_job: JobRun, inc_job: JobRun) -> None:
    print(
        f"full job, fresh process:      {full_job.wall_s:7.2f} s  (embedded "
        f"{full_job.report['embedded']}, encode stage {full_job.report['encode_s']:.2f} s)"
        f"  peak RSS {full_job.peak_rss_mb:,.0f} MiB"
    )
    print(
        f"incremental, fresh process:   {inc_job.wall_s:7.2f} s  (embedded "
        f"{inc_job.report['embedded']}, encode stage {inc_job.report['encode_s']:.2f} s)"
        f"  peak RSS {inc_job.peak_rss_mb:,.0f} MiB"
    )
    print(
        f"incremental / full, fresh process: {inc_job.wall_s / full_job.wall_s:.1%} of wall time,"
        f" {inc_job.report['encode_s'] / full_job.report['encode_s']:.1%} of encode-stage time"
    )


if __name__ == "__main__":
    main()
