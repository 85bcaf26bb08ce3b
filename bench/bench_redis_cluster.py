"""Capacity of one Redis Cluster shard for the answer cache (issue 26 item 5), beside one plain
node in the same run.

1. memory: ``--n`` answers written through the service's cache adapter (``RedisAnswerCacheSync``,
   real entries with 384-d vectors, one scope: one hash slot, so one master) into a private
   3+3 cluster (``scripts/redis_cluster.sh``) and into a private single node; ``used_memory``
   of the master that holds the scope, before and after: bytes per answer, both;
2. the hit path's Redis work: GET of those answer keys, at random, by ``redis-benchmark``
   (``--clients`` connections, pipelining 1) against that master and against the single node,
   alternating, ``--rounds`` each: ops/s median (min-max, n) and the ratio shard/node;
3. the semantic lookup does no Redis work per request (each replica holds the vectors in its
   own mirror and replays the scope's change log): its per-shard cost is the memory above.

    .venv/bin/python bench/bench_redis_cluster.py [--n 20000] [--rounds 3] [--clients 32]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache.codec import CacheScope  # noqa: E402
from core.cache.redis_sync import RedisAnswerCacheSync  # noqa: E402
from core.redis_clients import sync_redis  # noqa: E402
from shared_schemas.cache import CacheEntry  # noqa: E402

SCOPE = CacheScope("20261207-bench", "sentence-transformers/all-MiniLM-L6-v2", "qwen", "p7")
SCRIPT = ROOT / "scripts" / "redis_cluster.sh"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fill(client: object, n: int) -> None:
    cache = RedisAnswerCacheSync(client, capacity=0)
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    for i in range(n):
        entry = CacheEntry(
            question=f"What is the answer to benchmark question number {i}?",
            normalized_key=f"what is the answer to benchmark question number {i}",
            answer="Denver Broncos " * 6,
            index_version=SCOPE.index_version,
            embedding_model=SCOPE.embedding_model,
            llm_model=SCOPE.llm_model,
            prompt_version=SCOPE.prompt_version,
            created_at=now,
            origin="batch",
        )
        vec = rng.standard_normal(384).astype(np.float32)
        cache.put(entry, vec / np.linalg.norm(vec), ttl_s=86_400)


def used(port: int) -> int:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "info", "memory"], capture_output=True, text=True
    ).stdout
    return int(next(ln for ln in out.splitlines() if ln.startswith("used_memory:")).split(":")[1])


def hit_keys(client: object, n: int) -> None:
    """``n`` answer keys named as redis-benchmark's ``__rand_int__`` (12 digits) writes them,
    each holding a real entry's bytes: its GETs then read what a hit reads."""
    body = next(iter(client.scan_iter(match=SCOPE.key("*"), count=100)))  # type: ignore[attr-defined]
    value = client.get(body)  # type: ignore[attr-defined]
    for start in range(0, n, 1000):
        pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for i in range(start, min(n, start + 1000)):
            pipe.set(SCOPE.key(f"{i:012d}"), value)
        pipe.execute()


def gets_per_s(port: int, pattern: str, clients: int, requests: int, keys: int) -> float:
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests),
         "-r", str(keys), "-q", "GET", pattern],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # the last line: "GET <pattern>: 123456.79 requests per second, p50=0.031 msec"
    last = out.replace("\r", "\n").strip().splitlines()[-1]
    return float(last.split(" requests per second")[0].rsplit(" ", 1)[-1])


def spread(values: list[float]) -> str:
    return (
        f"{statistics.median(values):,.0f}/s ({min(values):,.0f}-{max(values):,.0f}, "
        f"n={len(values)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--base", type=int, default=7400, help="cluster ports base..base+5")
    ap.add_argument("--node-port", type=int, default=7450)
    args = ap.parse_args()
    print(f"load before: {loadavg()}")
    node = subprocess.Popen(
        ["redis-server", "--port", str(args.node_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    subprocess.run(["bash", str(SCRIPT), "start", str(args.base)], check=True)
    try:
        cluster = sync_redis(f"redis+cluster://127.0.0.1:{args.base}")
        single = sync_redis(f"redis://127.0.0.1:{args.node_port}/0")
        single.ping()
        probe = SCOPE.key("x")
        master = cluster.get_node_from_key(probe)
        master = master[0] if isinstance(master, list) else master
        shard = int(master.port)
        # 1. memory per answer
        per_answer = {}
        for name, client, port in (("shard", cluster, shard), ("node", single, args.node_port)):
            before = used(port)
            t0 = time.perf_counter()
            fill(client, args.n)
            took = time.perf_counter() - t0
            per_answer[name] = (used(port) - before) / args.n
            print(
                f"1. {name}: {args.n:,} answers written in {took:.1f} s; "
                f"{per_answer[name]:,.0f} B an answer (used_memory of port {port})"
            )
        # 2. GETs of the answer keys (the random part stands in for the question hash)
        for client in (cluster, single):
            hit_keys(client, args.n)
        tag_prefix = SCOPE.key("")
        pattern = f"{tag_prefix}__rand_int__"
        shard_rates: list[float] = []
        node_rates: list[float] = []
        print(f"2. GET of answer keys, {args.clients} connections, load {loadavg()}")
        for _ in range(args.rounds):
            shard_rates.append(gets_per_s(shard, pattern, args.clients, args.requests, args.n))
            node_rates.append(
                gets_per_s(args.node_port, pattern, args.clients, args.requests, args.n)
            )
        print(f"   one cluster master: {spread(shard_rates)}")
        print(f"   one plain node:     {spread(node_rates)}")
        ratio = statistics.median(shard_rates) / statistics.median(node_rates)
        print(f"   ratio shard/node (medians): {ratio:.2f}x")
        print(
            f"3. memory ratio shard/node: {per_answer['shard'] / per_answer['node']:.2f}x; "
            f"load after: {loadavg()}"
        )
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(args.base)], check=False)
        node.terminate()
        node.wait(timeout=10)


if __name__ == "__main__":
    main()
