"""The append-only vector store: ``embeddings/<model-safe-name>/part-<run>.parquet``.

Each part file has the columns ``chunk_id`` (string) and ``vector`` (list<float32>), one row per
chunk embedded by that model; the model id and dimension are in the Parquet key-value metadata.
Files are written under a temporary name and renamed, so a reader never sees half a part, and
never rewritten. The index builder reads exactly its snapshot's chunks with :meth:`load`, so
chunks of removed or changed documents (new content, new chunk id) drop out of the next index.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from batch.embed.errors import EmbedError
from batch.settings import BatchSettings

log = logging.getLogger(__name__)

PART_GLOB = "part-*.parquet"
STORE_SCHEMA = pa.schema([("chunk_id", pa.string()), ("vector", pa.list_(pa.float32()))])
META_MODEL = b"tandem.model"
META_DIM = b"tandem.dimension"


def model_safe_name(model_id: str) -> str:
    """A folder name for a model id: ``sentence-transformers/all-MiniLM-L6-v2`` ->
    ``sentence-transformers__all-MiniLM-L6-v2``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id.replace("/", "__"))


class EmbeddingStore:
    """Vectors of one embedding model, keyed by chunk id."""

    def __init__(
        self,
        embeddings_dir: Path | None = None,
        model_id: str | None = None,
        *,
        settings: BatchSettings | None = None,
    ) -> None:
        """The store under ``embeddings_dir`` for ``model_id``; either may come from settings."""
        if settings is not None:
            embeddings_dir = embeddings_dir or settings.embeddings_dir
            model_id = model_id or settings.embedding_model
        if embeddings_dir is None or model_id is None:
            raise TypeError("EmbeddingStore needs embeddings_dir and model_id, or settings")
        self.model_id = model_id
        self.path = embeddings_dir / model_safe_name(model_id)

    @classmethod
    def for_settings(cls, settings: BatchSettings) -> EmbeddingStore:
        return cls(settings=settings)

    def part_files(self) -> list[Path]:
        return sorted(self.path.glob(PART_GLOB)) if self.path.is_dir() else []

    def existing_ids(self) -> set[str]:
        """Chunk ids that already have a vector from this model."""
        ids: set[str] = set()
        for part in self.part_files():
            ids.update(pq.read_table(part, columns=["chunk_id"])["chunk_id"].to_pylist())
        return ids

    def dimension(self) -> int | None:
        """Vector length of the stored parts (from the first part's metadata); None if empty."""
        parts = self.part_files()
        if not parts:
            return None
        meta = pq.read_schema(parts[0]).metadata or {}
        if META_DIM in meta:
            return int(meta[META_DIM])
        return _matrix(pq.read_table(parts[0]).slice(0, 1)).shape[1]

    def append(self, table: pa.Table, *, run: str, dimension: int | None = None) -> Path | None:
        """Write ``table`` (chunk_id, vector) as a new part ``part-<run>.parquet``.

        Every vector must have ``dimension`` values (default: as many as the first vector),
        the same as the vectors already stored: a store never mixes dimensions.
        """
        if table.num_rows == 0:
            return None
        stored = self.dimension()
        if dimension is None:
            dimension = len(table["vector"][0].as_py() or [])
        if stored is not None and stored != dimension:
            raise EmbedError(
                f"{self.path} holds {stored}-d vectors, got {dimension}-d: a different model "
                "needs its own embedding_model id"
            )
        table = _checked(table, dimension)
        table = table.replace_schema_metadata(self._metadata(dimension))
        self.path.mkdir(parents=True, exist_ok=True)
        target = self._free_name(run)
        tmp = self.path / f".tmp-{uuid.uuid4().hex}.parquet"
        try:
            pq.write_table(table, tmp)
            tmp.rename(target)
        finally:
            tmp.unlink(missing_ok=True)
        log.info("embeddings appended part=%s rows=%d", target.name, table.num_rows)
        return target

    def adopt(self, files: Iterable[Path], *, run: str, dimension: int | None = None) -> list[Path]:
        """Move Parquet files written elsewhere (the Spark job's output) in as new parts.

        Each file is checked and rewritten with the store's schema and metadata under a
        temporary name, then renamed into place.
        """
        written: list[Path] = []
        for i, source in enumerate(sorted(files)):
            part = self.append(pq.read_table(source), run=f"{run}-{i:05d}", dimension=dimension)
            if part is not None:
                written.append(part)
        return written

    def load(
        self, chunk_ids: Sequence[str], *, allow_missing: bool = False
    ) -> tuple[list[str], np.ndarray]:
        """Vectors of ``chunk_ids`` in the order given, as a float32 ``(n, dim)`` matrix.

        A chunk id with no vector raises :class:`EmbedError` unless ``allow_missing``, in
        which case it is left out of both results.
        """
        wanted = pa.array(list(dict.fromkeys(chunk_ids)), type=pa.string())
        found: dict[str, np.ndarray] = {}
        dim = 0
        for part in self.part_files():
            table = pq.read_table(part)
            table = table.filter(pc.is_in(table["chunk_id"], value_set=wanted))
            if table.num_rows == 0:
                continue
            matrix = _matrix(table)
            dim = matrix.shape[1]
            for cid, row in zip(table["chunk_id"].to_pylist(), matrix, strict=True):
                found.setdefault(cid, row)
        ids = [cid for cid in chunk_ids if cid in found]
        missing = len(chunk_ids) - len(ids)
        if missing and not allow_missing:
            example = next(cid for cid in chunk_ids if cid not in found)
            raise EmbedError(
                f"{missing} chunk(s) have no {self.model_id} vector (e.g. {example}); "
                "run `tandem embed` for the snapshot first"
            )
        if not ids:
            return [], np.zeros((0, dim), dtype=np.float32)
        return ids, np.ascontiguousarray(np.stack([found[c] for c in ids]), dtype=np.float32)

    def _metadata(self, dimension: int) -> dict[bytes, bytes]:
        return {META_MODEL: self.model_id.encode(), META_DIM: str(dimension).encode()}

    def _free_name(self, run: str) -> Path:
        target = self.path / f"part-{run}.parquet"
        n = 1
        while target.exists():
            target = self.path / f"part-{run}.{n}.parquet"
            n += 1
        return target


def _matrix(table: pa.Table) -> np.ndarray:
    column = table["vector"].combine_chunks()
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(table.num_rows, -1) if table.num_rows else values.reshape(0, 0)


def _checked(table: pa.Table, dimension: int) -> pa.Table:
    if not {"chunk_id", "vector"} <= set(table.column_names):
        raise EmbedError(f"vector table needs chunk_id and vector, has {table.column_names}")
    table = table.select(["chunk_id", "vector"])
    lengths = pc.list_value_length(table["vector"])
    if pc.any(pc.not_equal(lengths, dimension)).as_py():
        raise EmbedError(f"vectors must all have dimension {dimension}")
    return table.cast(STORE_SCHEMA)
