"""Memory of the bounded answer cache: N unique live answers written through the service's cache
adapter (``RedisAnswerCache``, the write-through a live miss does after a fake, instant
LLM), with a second replica replaying the change log. Prints Redis and process memory, bytes
per entry, and checks that both stay within the configured capacity.

    .venv/bin/python bench/bench_cache_memory.py --n 100000 --capacity 20000

Starts a private ``redis-server`` (so ``INFO memory`` counts only this run) unless ``--redis-url``
is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache.codec import CacheScope  # noqa: E402
from core.cache.redis import RedisAnswerCache  # noqa: E402
from core.redis_clients import async_redis, sync_redis  # noqa: E402
from shared_schemas.cache import CacheEntry, CitedChunk  # noqa: E402
from shared_schemas.hashing import question_key_hash  # noqa: E402

SCOPE = CacheScope("20260101-0123abcd", "sentence-transformers_all-MiniLM-L6-v2", "fake-llm", "p1")
DIM = 384
MB = 1024 * 1024


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def private_redis() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = sync_redis(url)
    for _ in range(2000):
        try:
            client.ping()
            return proc, url
        except Exception:
            time.sleep(0.01)
    raise RuntimeError("redis-server did not start")


def live_entry(i: int, now: datetime) -> CacheEntry:
    question = f"What happened in the year {1000 + i % 1000} to item number {i}?"
    return CacheEntry(
        question=question,
        normalized_key=question_key_hash(question),
        answer=f"answer: {question} " + "lorem ipsum dolor sit amet " * 6,
        cited=tuple(
            CitedChunk(
                chunk_id=f"c{i % 97}-{k}", doc_id=f"d{k}", content_hash=f"h{k}" * 8, score=0.5
            )
            for k in range(5)
        ),
        index_version=SCOPE.index_version,
        embedding_model=SCOPE.embedding_model,
        llm_model=SCOPE.llm_model,
        prompt_version=SCOPE.prompt_version,
        created_at=now,
        origin="live",
    )


async def run(url: str, n: int, capacity: int, ttl_s: int) -> dict[str, Any]:
    writer = RedisAnswerCache(async_redis(url), capacity=capacity)
    reader = RedisAnswerCache(async_redis(url), capacity=capacity)
    sync = sync_redis(url)
    sync.flushdb()
    base_used = int(sync.info("memory")["used_memory"])
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    probe = None
    for i in range(n):
        vec = rng.standard_normal(DIM).astype(np.float32)
        vec /= np.linalg.norm(vec)
        entry = live_entry(i, now)
        await writer.put(entry, vec, ttl_s=ttl_s)
        if i % 500 == 499:  # the other replica looks up: replays what changed since
            probe = await reader.get_semantic(SCOPE, entry.question, vec, threshold=0.99)
            assert probe is not None
            await writer.get_semantic(SCOPE, entry.question, vec, threshold=0.99)
    elapsed = time.perf_counter() - t0
    mirror = reader._mirrors[SCOPE.semantic_key()]
    rss1 = rss_bytes()
    # a replica starting now: what loading the full scope costs it (traced from here only)
    fresh = RedisAnswerCache(async_redis(url), capacity=capacity, lookup_timeout_s=120)
    tracemalloc.start()
    await fresh.get_semantic(SCOPE, "probe", vec, threshold=0.99)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    answers = list(sync.scan_iter(match=SCOPE.key("*"), count=5000))
    keys = SCOPE.keys
    side = {
        name: int(sync.memory_usage(key, samples=0) or 0)
        for name, key in zip(("vectors", "lru", "expiry", "log", "meta"), keys.all(), strict=True)
    }
    sample = answers[:: max(1, len(answers) // 500)]
    per_answer = sum(int(sync.memory_usage(k) or 0) for k in sample) / max(1, len(sample))
    used = int(sync.info("memory")["used_memory"]) - base_used
    held = len(answers)
    return {
        "n": n,
        "capacity": capacity,
        "answers_held": held,
        "vectors_held": int(sync.hlen(keys.vectors)),
        "writer_evicted": writer.evicted,
        "reader_mirror_rows": len(mirror),
        "reader_full_loads": reader.full_loads,
        "writes_per_s": n / elapsed,
        "redis_used_mb": used / MB,
        "redis_bytes_per_entry": used / max(1, held),
        "memory_usage_answer_key_b": per_answer,
        "memory_usage_scope_keys_b": side,
        "mirror_matrix_mb": mirror.nbytes / MB,
        "fresh_replica_traced_mb": current / MB,
        "fresh_replica_traced_peak_mb": peak / MB,
        "fresh_replica_bytes_per_row": current / max(1, len(fresh._mirrors[SCOPE.semantic_key()])),
        "rss_growth_mb": (rss1 - rss0) / MB,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--capacity", type=int, default=20_000)
    ap.add_argument("--ttl", type=int, default=3600)
    ap.add_argument("--redis-url", default=None)
    args = ap.parse_args()
    proc = None
    url = args.redis_url
    if url is None:
        proc, url = private_redis()
    try:
        out = asyncio.run(run(url, args.n, args.capacity, args.ttl))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    for k, v in out.items():
        print(f"{k:28} {v:.2f}" if isinstance(v, float) else f"{k:28} {v}")
    ok = out["answers_held"] <= args.capacity and out["vectors_held"] <= args.capacity
    ok = ok and out["reader_mirror_rows"] <= args.capacity and out["reader_full_loads"] == 1
    print("within capacity:", ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
