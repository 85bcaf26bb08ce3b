"""On-disk and Redis layout shared by writers (batch) and readers (online)."""

from __future__ import annotations

import re
from typing import TypedDict

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
# Redis Cluster (issue 26): every multi-key operation (a script, a transaction) must touch keys
# of one hash slot. Keys that go together share a hash tag, the part in ``{...}`` that a cluster
# hashes instead of the whole key:
# - one cache scope (its answers, question vectors and bounded-store bookkeeping): ``{<digest of
#   the scope>}``, so scopes spread over the slots (each scope lives on one shard);
# - a stream and its helper keys: ``{<the stream's name>}`` (a key without braces hashes whole,
#   so ``{tandem:refine}:job:1`` lands in the slot of ``tandem:refine``);
# - one experiment's shared state: ``{<experiment id>}`` (online/experiments/shared.py);
# - a rate-limit bucket is one key, alone.
# The layout before these tags (no ``{`` in the keys) is not read any more: an existing
# single-node deployment re-warms (docs/SCALING.md, "Redis Cluster").
REDIS_PREFIX = "tandem"
LIVE_MANIFEST_KEY = f"{REDIS_PREFIX}:index:live"  # JSON IndexManifest of the live version
LIVE_CHANNEL = f"{REDIS_PREFIX}:index:events"  # pub/sub: published version names
QUERY_LOG_STREAM = f"{REDIS_PREFIX}:querylog"
FEEDBACK_STREAM = f"{REDIS_PREFIX}:feedback"
REFINE_STREAM = f"{REDIS_PREFIX}:refine"
JUDGE_STREAM = f"{REDIS_PREFIX}:judge"  # borderline misses: (question, nearest cached) pairs
JUDGED_PREFIX = f"{REDIS_PREFIX}:judged"  # + ":<scope digest>:<qhash>:<candidate>": verdict
FRESHNESS_KEY = f"{REDIS_PREFIX}:freshness"  # hash: the current (latest computed_at) figures
# + ":<computed_at ISO>": the figures of that time (the slot of FRESHNESS_KEY: one WATCH)
FRESHNESS_AT_PREFIX = f"{{{FRESHNESS_KEY}}}:at"
DAG_SUCCESS_KEY = f"{REDIS_PREFIX}:dag:last_success"  # hash: dag_id -> ISO time of last success
# + job id: JSON JobStatus (the slot of REFINE_STREAM: one script enqueues both)
REFINE_JOB_PREFIX = f"{{{REFINE_STREAM}}}:job:"
ANSWER_PREFIX = f"{REDIS_PREFIX}:ans"  # hot answers: see cache_key
SEMANTIC_PREFIX = f"{REDIS_PREFIX}:semvec"  # question vectors of one cache scope (a hash)
# bookkeeping of one cache scope's bounded store (same suffix as its ``semvec`` hash):
SEMANTIC_LRU_PREFIX = f"{REDIS_PREFIX}:semlru"  # zset: question hash -> use tick (eviction)
SEMANTIC_EXPIRY_PREFIX = f"{REDIS_PREFIX}:semexp"  # zset: question hash -> expiry (ms)
SEMANTIC_LOG_PREFIX = f"{REDIS_PREFIX}:semlog"  # stream of vector changes (op a|d, h, n)
SEMANTIC_META_PREFIX = f"{REDIS_PREFIX}:semmeta"  # hash: epoch, seq, tick, persist
RATE_LIMIT_PREFIX = f"{REDIS_PREFIX}:rl"  # + ":<bucket>:<client>": GCRA arrival time (ms)


def beside(key: str, suffix: str) -> str:
    """A key in the hash slot of ``key`` (a stream, say), named ``{key}<suffix>``."""
    return f"{{{key}}}{suffix}"


def scope_tag(*parts: str) -> str:
    """The hash tag of one cache scope: a short digest of what names it."""
    import hashlib

    return "{" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12] + "}"


def freshness_key_at(computed_at: str) -> str:
    """The hash of the freshness figures computed at ``computed_at`` (an ISO time, UTC)."""
    return f"{FRESHNESS_AT_PREFIX}:{computed_at}"


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
    tag = scope_tag(namespace, str(sv), index_version, embedding_model, llm_model, prompt_version)
    return ":".join(
        [
            ANSWER_PREFIX,
            tag,
            namespace,
            f"s{sv}",
            index_version,
            _safe(embedding_model),
            _safe(llm_model),
            prompt_version,
            question_hash,
        ]
    )


# namespace and prompt version are not sanitised by ``cache_key``, so they may hold ':'; the
# other parts never do (versions are ``YYYYMMDD-hex``, model names pass through ``_safe``,
# question hashes are hex). The namespace ends at the first ``:s<digits>:``.
_CACHE_KEY = re.compile(
    rf"^{ANSWER_PREFIX}:\{{[0-9a-f]+\}}:(?P<namespace>.+?):s(?P<schema_version>\d+):"
    r"(?P<index_version>[^:]+):(?P<embedding_model>[^:]+):(?P<llm_model>[^:]+):"
    r"(?P<prompt_version>.+):(?P<question_hash>[^:]+)$"
)


class CacheKeyParts(TypedDict):
    namespace: str
    schema_version: int
    index_version: str
    embedding_model: str  # as sanitised in the key
    llm_model: str  # as sanitised in the key
    prompt_version: str
    question_hash: str


def parse_cache_key(key: str | bytes) -> CacheKeyParts | None:
    """The parts of a :func:`cache_key`; None when ``key`` is not a hot-answer key."""
    text = key.decode() if isinstance(key, bytes) else key
    m = _CACHE_KEY.match(text)
    if m is None:
        return None
    return CacheKeyParts(
        namespace=m["namespace"],
        schema_version=int(m["schema_version"]),
        index_version=m["index_version"],
        embedding_model=m["embedding_model"],
        llm_model=m["llm_model"],
        prompt_version=m["prompt_version"],
        question_hash=m["question_hash"],
    )


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_").replace(" ", "_")


__all__ = [
    "CacheKeyParts",
    "VersionedModel",
    "beside",
    "cache_key",
    "freshness_key_at",
    "parse_cache_key",
    "scope_tag",
]
