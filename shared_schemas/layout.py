"""On-disk and Redis layout shared by writers (batch) and readers (online)."""

from __future__ import annotations

from shared_schemas.base import VersionedModel

# --- index version directory (``<data_dir>/indexes/<version>/``) ---
MANIFEST_FILE = "manifest.json"
FAISS_FILE = "index.faiss"
IDMAP_FILE = (
    "ids.parquet"  # row i of the FAISS index -> chunk_id, doc_id, title, text, content_hash
)
BM25_DIR = "bm25"  # bm25s index folder (optional, lexical side)
LIVE_POINTER = "LIVE"  # file in ``<data_dir>/indexes/`` naming the live version

# --- Redis keys ---
REDIS_PREFIX = "tandem"
LIVE_MANIFEST_KEY = f"{REDIS_PREFIX}:index:live"  # JSON IndexManifest of the live version
LIVE_CHANNEL = f"{REDIS_PREFIX}:index:events"  # pub/sub: published version names
QUERY_LOG_STREAM = f"{REDIS_PREFIX}:querylog"
FEEDBACK_STREAM = f"{REDIS_PREFIX}:feedback"
REFINE_STREAM = f"{REDIS_PREFIX}:refine"
FRESHNESS_KEY = f"{REDIS_PREFIX}:freshness"


def cache_key(
    *,
    namespace: str,
    index_version: str,
    embedding_model: str,
    llm_model: str,
    prompt_version: str,
    question_hash: str,
    schema_version: int | None = None,
) -> str:
    """The versioned key of a hot answer; every part that changes the answer is in it."""
    from shared_schemas.cache import CacheEntry

    sv = schema_version if schema_version is not None else CacheEntry.SCHEMA_VERSION
    return ":".join(
        [
            REDIS_PREFIX,
            "ans",
            namespace,
            f"s{sv}",
            index_version,
            _safe(embedding_model),
            _safe(llm_model),
            prompt_version,
            question_hash,
        ]
    )


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_").replace(" ", "_")


__all__ = ["VersionedModel", "cache_key"]
