"""``embed_snapshot``: encode a snapshot's chunks that have no vector yet, with Spark.

The driver finds the new chunks (chunk ids of the snapshot not in the store for this model),
writes them to a staging Parquet file, and Spark encodes that with ``mapInPandas`` over Arrow
batches: each Python worker loads the model once (:func:`core.encoder.get_encoder`). The output is
written by Spark into staging and then moved into the store as new part files; when nothing is
new, Spark is not started at all.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc
import pyarrow.parquet as pq

from batch.embed.encode import OUTPUT_DDL, EncodeSpec, WorkerStats, encode_batches
from batch.embed.errors import EmbedError
from batch.embed.progress import spark_progress
from batch.embed.report import EmbedReport
from batch.embed.staging import STAGING, claimed_staging, remove_abandoned
from batch.embed.store import EmbeddingStore
from batch.ingest.snapshot import CHUNKS_FILE, snapshot_dir
from batch.settings import BatchSettings
from shared_schemas.hashing import sha256_hex

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

ROWS_PER_PARTITION = 256


def embed_snapshot(
    run_date: date,
    *,
    settings: BatchSettings,
    spark: SparkSession | None = None,
    partitions: int | None = None,
) -> EmbedReport:
    """Embed the new chunks of ``snapshots/<run_date>/`` into the store; see the module doc.

    ``spark``: a session to use (left running). By default the process's running session is
    used (and left running), else one is made and stopped at the end.
    ``partitions``: Spark tasks to split the new chunks into (default: :func:`default_partitions`).
    """
    started = time.perf_counter()
    chunks_path = snapshot_dir(settings.snapshots_dir, run_date) / CHUNKS_FILE
    if not chunks_path.exists():
        raise EmbedError(f"no snapshot for {run_date}: {chunks_path} is missing (run ingest)")
    store = EmbeddingStore.for_settings(settings)
    remove_abandoned(store.path.parent / STAGING)  # a killed run's half-written output
    chunks = pq.read_table(chunks_path, columns=["chunk_id", "text"])
    existing = store.existing_ids()
    is_new = pc.invert(pc.is_in(chunks["chunk_id"], value_set=_string_array(existing)))
    todo = chunks.filter(is_new)
    report = EmbedReport(
        run_date=run_date,
        model=settings.embedding_model,
        dimension=store.dimension() or 0,
        device=settings.device,
        spark_master=settings.spark_master,
        chunks_in_snapshot=chunks.num_rows,
        already_embedded=chunks.num_rows - todo.num_rows,
        embedded=0,
    )
    log.info(
        "embed plan date=%s chunks=%d already=%d new=%d",
        run_date,
        chunks.num_rows,
        report.already_embedded,
        todo.num_rows,
    )
    if todo.num_rows:
        model_path = settings.embedding_model_path
        if model_path is not None and not model_path.is_dir():
            raise EmbedError(f"embedding model folder {model_path} does not exist")
        session, own_session = (spark, False) if spark is not None else _session(settings)
        # spark-submit may have chosen the master
        report.spark_master = session.sparkContext.master or settings.spark_master
        try:
            _encode_with_spark(
                session, todo, store=store, settings=settings, report=report, partitions=partitions
            )
        finally:
            if own_session:
                session.stop()
    report.elapsed_s = round(time.perf_counter() - started, 3)
    log.info(
        "embed done date=%s embedded=%d elapsed_s=%.1f", run_date, report.embedded, report.elapsed_s
    )
    return report


def _session(settings: BatchSettings) -> tuple[SparkSession, bool]:
    from batch.embed.spark_session import acquire_spark

    return acquire_spark(settings)


def _encode_with_spark(
    spark: SparkSession,
    todo: pa.Table,
    *,
    store: EmbeddingStore,
    settings: BatchSettings,
    report: EmbedReport,
    partitions: int | None,
) -> None:
    from batch.embed.worker_stats import WorkerStatsParam

    run = f"{report.run_date:%Y%m%d}-{sha256_hex(''.join(todo['chunk_id'].to_pylist()))[:8]}"
    name = f"{run}-{uuid.uuid4().hex[:8]}"
    with claimed_staging(store.path.parent / STAGING, name) as staging:
        todo_file = staging / "todo.parquet"
        pq.write_table(todo, todo_file)
        if partitions is None:
            partitions = default_partitions(todo.num_rows, spark.sparkContext.defaultParallelism)
        report.partitions = partitions
        spec = EncodeSpec(
            model_path=str(settings.embedding_model_path)
            if settings.embedding_model_path
            else None,
            device=settings.device,
            batch_size=settings.embed_batch_size,
            backend=settings.encoder_backend,
            cache_dir=str(prepare_backend(settings)),
            model_id=settings.embedding_model,
        )
        stats = spark.sparkContext.accumulator({}, WorkerStatsParam())
        out_dir = staging / "out"
        t0 = time.perf_counter()
        try:
            with spark_progress(
                spark.sparkContext, label="embed", rows=todo.num_rows, tasks=partitions
            ):
                (
                    spark.read.parquet(str(todo_file))
                    .repartition(partitions)
                    .mapInPandas(
                        functools.partial(encode_batches, spec=spec, stats=stats), OUTPUT_DDL
                    )
                    .write.mode("overwrite")
                    .parquet(str(out_dir))
                )
        except Exception as exc:  # Py4J/PySpark errors: one clear message, the cause chained
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise EmbedError(f"Spark embed job failed: {first_line}") from exc
        report.encode_s = round(time.perf_counter() - t0, 3)
        worker_stats: dict[str, WorkerStats] = dict(stats.value)
        parts = store.adopt(out_dir.glob("part-*.parquet"), run=run)
        report.dimension = store.dimension() or 0
        report.part_files = [p.name for p in parts]
        report.embedded = sum(pq.read_metadata(p).num_rows for p in parts)
    report.model_loads = {w: s.loads for w, s in sorted(worker_stats.items())}
    devices = sorted({s.device for s in worker_stats.values()})
    if devices:
        report.device = ",".join(devices)
    if report.embedded != todo.num_rows:
        raise EmbedError(f"Spark returned {report.embedded} vectors for {todo.num_rows} chunks")


def prepare_backend(settings: BatchSettings) -> Path:
    """The export cache the workers load from: an ONNX backend is exported here, in the
    driver, before the job (once; cached), so no two workers export at the same time."""
    if settings.encoder_backend != "torch":
        from core.encoder import bundled_model_path
        from core.encoders.export import ensure_exported
        from core.errors import EmbeddingModelError

        model_path = settings.embedding_model_path or bundled_model_path()
        try:
            ensure_exported(model_path, settings.encoders_dir, settings.encoder_backend)
        except EmbeddingModelError as exc:
            raise EmbedError(f"embedding model unusable, nothing embedded: {exc}") from exc
    return settings.encoders_dir


def default_partitions(rows: int, parallelism: int) -> int:
    """Spark tasks for ``rows`` new chunks: one for a small batch (one model load), else a
    multiple of the task slots (equal rounds, no straggler), up to four rounds."""
    if rows <= ROWS_PER_PARTITION or parallelism <= 1:
        return max(1, min(parallelism, math.ceil(rows / ROWS_PER_PARTITION)))
    rounds = min(4, math.ceil(rows / (parallelism * ROWS_PER_PARTITION)))
    return parallelism * rounds


def _string_array(values: set[str]) -> pa.Array:
    import pyarrow as pa

    return pa.array(sorted(values), type=pa.string())
