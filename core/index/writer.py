"""Write one index version directory: FAISS (dense) + bm25s (lexical) + id map + manifest.

The writer side of :mod:`core.index.format`. The directory is written under
``indexes/.staging/`` and renamed into place only when complete, so a crash leaves nothing
half-built where readers look. The version name comes from the run date and the chunk set
(:class:`core.index.version.IndexVersion`), so re-writing the same set returns the existing one.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.artifacts import write_text_atomic
from core.errors import IndexBuildError, IndexLoadError
from core.index.format import IDMAP_COLUMNS, LEXICAL_CONFIG_FILE, read_manifest, sha256_file
from core.index.lexical import LexicalConfig, Tokenizer, default_lexical_config, lexical_text
from core.index.version import IndexVersion
from shared_schemas.hashing import sha256_hex
from shared_schemas.layout import BM25_DIR, FAISS_FILE, IDMAP_FILE, MANIFEST_FILE
from shared_schemas.manifest import ArtifactFile, IndexManifest

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

STAGING_DIR = ".staging"
DEFAULT_EXACT_MAX = 200_000


def chunk_set_digest(chunk_ids: list[str]) -> str:
    """sha256 over the sorted chunk ids, one per line: the identity of a chunk set."""
    return sha256_hex("\n".join(sorted(chunk_ids)))


def list_artifacts(version_dir: Path) -> tuple[ArtifactFile, ...]:
    """Every file under the version dir except the manifest, with size and sha256."""
    out: list[ArtifactFile] = []
    for path in sorted(p for p in version_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(version_dir).as_posix()
        if rel == MANIFEST_FILE:
            continue
        out.append(ArtifactFile(path=rel, sha256=sha256_file(path), bytes=path.stat().st_size))
    return tuple(out)


def write_manifest(version_dir: Path, manifest: IndexManifest) -> None:
    write_text_atomic(version_dir / MANIFEST_FILE, manifest.model_dump_json(indent=2) + "\n")


def new_staging_dir(indexes_dir: Path, version: str) -> Path:
    staging = indexes_dir / STAGING_DIR / f"{version}-{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    return staging


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


BM25_K1 = 1.2
BM25_B = 0.75


def choose_factory(n_vectors: int, *, exact_max: int, override: str | None = None) -> str:
    """Exact ("Flat") up to ``exact_max`` vectors, else IVF with ~4*sqrt(n) lists."""
    if override:
        return override
    if n_vectors <= exact_max:
        return "Flat"
    nlist = 1 << max(4, round(math.log2(4 * math.sqrt(n_vectors))))
    return f"IVF{nlist},Flat"


def build_faiss(vectors: np.ndarray, factory: str) -> tuple[Any, Literal["cpu", "gpu"]]:
    """Train (when needed) and fill a FAISS inner-product index; on GPUs when faiss has any."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    where: Literal["cpu", "gpu"] = "cpu"
    ngpu = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    work = index
    if ngpu > 0 and not factory.startswith("HNSW"):  # HNSW has no GPU implementation
        try:
            work = faiss.index_cpu_to_all_gpus(index)
            where = "gpu"
        except (RuntimeError, AttributeError) as exc:
            log.warning("faiss GPU unavailable, building on CPU: %s", exc)
            work = index
    if not work.is_trained:
        work.train(_training_sample(x, factory))
    work.add(x)
    if where == "gpu":
        index = faiss.index_gpu_to_cpu(work)
    ivf = faiss.try_extract_index_ivf(index) if hasattr(faiss, "try_extract_index_ivf") else None
    if ivf is not None:
        ivf.nprobe = min(ivf.nlist, max(8, ivf.nlist // 16))  # stored in the index file
    return index, where


def _training_sample(x: np.ndarray, factory: str) -> np.ndarray:
    m = re.match(r"IVF(\d+)", factory)
    if not m:
        return x
    cap = int(m.group(1)) * 256
    if x.shape[0] <= cap:
        return x
    rng = np.random.default_rng(0)
    return x[np.sort(rng.choice(x.shape[0], cap, replace=False))]


def build_bm25(titles: list[str], texts: list[str], out_dir: Path, config: LexicalConfig) -> None:
    import bm25s

    tokenize = Tokenizer(config)
    corpus = [tokenize(lexical_text(t, x)) for t, x in zip(titles, texts, strict=True)]
    model = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    model.index(corpus, show_progress=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir), show_progress=False)
    (out_dir / LEXICAL_CONFIG_FILE).write_text(config.to_json() + "\n", encoding="utf-8")


def write_index_version(
    chunks: pa.Table,
    vectors: np.ndarray,
    *,
    indexes_dir: Path,
    embedding_model: str,
    source_snapshot: str,
    exact_max: int = DEFAULT_EXACT_MAX,
    factory: str | None = None,
    version: str | None = None,
    run_date: date | None = None,
    lexical: bool = True,
    lexical_config: LexicalConfig | None = None,
) -> IndexManifest:
    """Write a version dir from a chunk table (rows aligned with ``vectors``).

    ``chunks`` needs the columns chunk_id, doc_id, title, text, content_hash.
    Idempotent: an existing version with the same chunk set is returned as is.
    """
    import faiss
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = datetime.now(UTC)
    missing = [c for c in IDMAP_COLUMNS if c not in chunks.column_names]
    if missing:
        raise IndexBuildError(f"chunk table lacks columns {missing}")
    if vectors.ndim != 2 or vectors.shape[0] != chunks.num_rows:
        raise IndexBuildError(
            f"{vectors.shape[0] if vectors.ndim else 0} vectors for {chunks.num_rows} chunks"
        )
    if chunks.num_rows == 0:
        raise IndexBuildError("no chunks to index")
    ids_table = pa.table({c: chunks.column(c).cast(pa.string()) for c in IDMAP_COLUMNS})
    chunk_ids = [str(v) for v in ids_table.column("chunk_id").to_pylist()]
    if len(set(chunk_ids)) != len(chunk_ids):
        raise IndexBuildError("duplicate chunk ids in the chunk table")
    digest = chunk_set_digest(chunk_ids)
    day = run_date or started.date()
    version = version or IndexVersion.of(day, digest).name
    final = indexes_dir / version
    existing = existing_version(final, digest)
    if existing is not None:
        return existing

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1)
    if not np.all(np.abs(norms - 1.0) < 1e-3):
        log.warning("vectors were not unit length; normalising before indexing")
        x = x / np.maximum(norms[:, None], 1e-12)
    factory = choose_factory(x.shape[0], exact_max=exact_max, override=factory)
    staging = new_staging_dir(indexes_dir, version)
    try:
        t0 = time.perf_counter()
        index, where = build_faiss(x, factory)
        faiss.write_index(index, str(staging / FAISS_FILE))
        t1 = time.perf_counter()
        pq.write_table(ids_table, staging / IDMAP_FILE)
        if lexical:
            build_bm25(
                [str(t) for t in ids_table.column("title").to_pylist()],
                [str(t) for t in ids_table.column("text").to_pylist()],
                staging / BM25_DIR,
                lexical_config or default_lexical_config(),
            )
        t2 = time.perf_counter()
        manifest = IndexManifest(
            index_version=version,
            embedding_model=embedding_model,
            dimension=int(x.shape[1]),
            normalized=True,
            metric="inner_product",
            faiss_factory=factory,
            vector_count=int(index.ntotal),
            chunk_set_digest=digest,
            source_snapshot=source_snapshot,
            lexical="bm25" if lexical else "none",
            build_started_at=started,
            build_finished_at=datetime.now(UTC),
            built_on=where,
            artifacts=list_artifacts(staging),
        )
        write_manifest(staging, manifest)
        _fsync_dir(staging)
        try:
            os.rename(staging, final)
        except OSError:
            if final.exists():  # a concurrent build of the same version won the race
                remove_tree(staging)
                return _existing(final, digest)
            raise
    except BaseException:
        remove_tree(staging)
        raise
    log.info(
        "index version built version=%s vectors=%d factory=%s on=%s faiss_s=%.2f lexical_s=%.2f",
        version,
        manifest.vector_count,
        factory,
        where,
        t1 - t0,
        t2 - t1,
    )
    return manifest


def existing_version(final: Path, digest: str) -> IndexManifest | None:
    """The manifest of the version at ``final`` when it is already built, else None.

    Raises :class:`IndexBuildError` when it exists with another chunk set (never overwritten).
    """
    if not final.exists():
        return None
    return _existing(final, digest)


def _existing(final: Path, digest: str) -> IndexManifest:
    try:
        manifest = read_manifest(final)
    except IndexLoadError as exc:
        raise IndexBuildError(f"{final} exists but its manifest is unreadable: {exc}") from exc
    if manifest.chunk_set_digest != digest:
        raise IndexBuildError(
            f"{final} exists with a different chunk set ({manifest.chunk_set_digest[:12]} != "
            f"{digest[:12]}); refusing to overwrite a version"
        )
    log.info("index version exists, nothing to build version=%s", manifest.index_version)
    return manifest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
