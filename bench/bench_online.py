"""Online service benchmarks, side by side in one run (servers in their own processes, load from
this process over loopback):

1. cache-hit path of ``POST /v1/query`` vs a baseline FastAPI app doing one Redis GET per request
   (goal: >= 0.85x its throughput, p50 within +0.3 ms). The headline warms every distinct SQuAD
   dev question (``--hit-questions``, default all: over 10,000 entries) and cycles through them,
   so most requests miss the service's in-process memos (4,096 entries) and decode their entry;
   the ratio is the median of the per-round ratios with their spread (min-max), never the best
   round. ``--hit-questions 500`` gives the old memo-resident figure for comparison;
2. live retrieval step (the pipeline's embed + search) vs raw ``encode`` + ``index.search``
   (goal: <= 1.1x the time);
3. generation tokens/s through the service's runner vs raw ``generate()`` (goal: >= 0.9x);
4. failed requests while the live index is swapped back and forth under load (goal: 0);
5. RSS of the service with both models and the SQuAD index loaded.

    .venv/bin/python bench/bench_online.py [--seconds 5] [--rounds 3] [--connections 16]

Step 1 also measures both sides at one connection (latency without queueing).

Uses Redis db 11 (``--redis-url``) and ``var/bench/online`` for the SQuAD index versions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_online_load import LoadResult, load  # noqa: E402
from bench_online_servers import baseline_key  # noqa: E402

from core.encoder import encoder_for  # noqa: E402
from online.settings import OnlineSettings  # noqa: E402

DATA = ROOT / "var" / "bench" / "online"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json.gz"
PY = sys.executable


# ---------------------------------------------------------------- setup
def prepare_indexes(settings: OnlineSettings) -> tuple[str, str]:
    """Two versions of the SQuAD dev paragraph index (same content, two dates); v1 live."""
    import hashlib

    import pyarrow as pa

    from batch.labelled import iter_squad_paragraphs, read_squad
    from batch.settings import BatchSettings
    from core.index.trust import record_published
    from core.index.writer import write_index_version
    from shared_schemas.documents import Chunk

    paras = list(iter_squad_paragraphs(read_squad(SQUAD)))
    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paras]
    cols = ["chunk_id", "doc_id", "title", "text", "content_hash"]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in cols})
    texts = [f"{c.title}\n{c.text}" for c in chunks]
    key = hashlib.sha256("\x00".join([settings.embedding_model, *texts]).encode()).hexdigest()[:16]
    cache = ROOT / "var" / "bench" / f"squad-paragraphs-{key}.npy"
    if cache.exists():
        vecs = np.load(cache)
    else:
        t0 = time.perf_counter()
        vecs = encoder_for(settings).encode(texts)
        print(f"encoded {len(texts)} paragraphs in {time.perf_counter() - t0:.0f}s", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vecs)
    bs = BatchSettings(data_dir=DATA)
    versions = []
    for day in (date(2026, 1, 1), date(2026, 1, 2)):
        m = write_index_version(
            table,
            vecs,
            indexes_dir=bs.indexes_dir,
            embedding_model=bs.embedding_model,
            source_snapshot="squad",
            run_date=day,
        )
        versions.append(m.index_version)
        # the service loads only what publish recorded (core.index.trust), as after `tandem index`
        record_published(bs.indexes_dir, m.index_version)
    (DATA / "indexes" / "LIVE").write_text(versions[0])
    return versions[0], versions[1]


def start(
    kind: str, port: int, redis_url: str, *extra: str, tree: Path = ROOT
) -> subprocess.Popen[bytes]:
    """``bench_online_servers.py`` of ``tree`` (default: this checkout; another worktree runs
    its own code: the script puts its tree first on ``sys.path``), ready."""
    cmd = [PY, str(tree / "bench" / "bench_online_servers.py"), kind, "--port", str(port)]
    cmd += ["--redis-url", redis_url, "--data-dir", str(DATA), *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(
        cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    path = "/readyz" if kind == "service" else "/docs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            raise RuntimeError(f"{kind} ({tree}) exited: {err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{kind} ({tree}) did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def squad_questions(n: int) -> list[str]:
    """``n`` SQuAD dev questions spread over the file, distinct by their cache key."""
    import gzip

    from shared_schemas.hashing import question_key_hash

    data = json.loads(gzip.decompress(SQUAD.read_bytes()))
    seen: set[str] = set()
    qs = []
    for q in (qa["question"] for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]):
        key = question_key_hash(q)
        if key not in seen:
            seen.add(key)
            qs.append(q)
    return qs[:: max(1, len(qs) // n)][:n]


# ---------------------------------------------------------------- 1. cache hits
def warm(settings: OnlineSettings, redis_url: str, version: str, questions: list[str]) -> None:
    import redis

    from core.cache.redis_sync import RedisAnswerCacheSync
    from core.index import load_index

    client = redis.Redis.from_url(redis_url)
    index = load_index(DATA / "indexes" / version, expected_model=settings.embedding_model)
    cache = RedisAnswerCacheSync(client)
    vecs = encoder_for(settings).encode(questions)
    from shared_schemas.cache import CacheEntry, CitedChunk
    from shared_schemas.hashing import question_key_hash

    for q, v in zip(questions, vecs, strict=True):
        hits = index.search(v, q, settings.top_k)
        entry = CacheEntry(
            question=q,
            normalized_key=question_key_hash(q),
            answer=f"A precomputed answer to: {q}",
            cited=tuple(
                CitedChunk(
                    chunk_id=h.chunk_id, doc_id=h.doc_id, content_hash=h.content_hash, score=h.score
                )
                for h in hits
            ),
            index_version=version,
            embedding_model=settings.embedding_model,
            llm_model=settings.llm_model,
            prompt_version=settings.prompt_version,
            created_at=datetime.now(UTC),
        )
        cache.put(entry, v, ttl_s=3600)
        client.set(baseline_key(q), entry.dumps(), ex=3600)


def bench_hits(
    args: argparse.Namespace, svc_port: int, base_port: int, questions: list[str]
) -> dict[str, Any]:
    body = lambda i: {"question": questions[i % len(questions)]}  # noqa: E731
    # warm-up both
    load(svc_port, body, seconds=1, connections=args.connections)
    load(base_port, body, seconds=1, connections=args.connections)
    runs: dict[str, list[LoadResult]] = {"baseline": [], "service": []}
    for _ in range(args.rounds):
        runs["baseline"].append(
            load(base_port, body, seconds=args.seconds, connections=args.connections)
        )
        runs["service"].append(
            load(
                svc_port, body, seconds=args.seconds, connections=args.connections, keep_bodies=True
            )
        )
    # the same at one connection: latency without queueing behind the other connections
    single: dict[str, list[LoadResult]] = {"baseline": [], "service": []}
    for _ in range(args.rounds):
        for name, port in (("baseline", base_port), ("service", svc_port)):
            single[name].append(load(port, body, seconds=args.seconds / 2, connections=1))
    hit_check = [json.loads(b)["cache"] for r in runs["service"] for b in r.bodies[:50]]
    assert set(hit_check) == {"exact"}, set(hit_check)
    out: dict[str, Any] = {
        "round_ratios": [
            s.rps / b.rps for s, b in zip(runs["service"], runs["baseline"], strict=True)
        ]
    }
    for name, rs in runs.items():
        lat = [x for r in rs for x in r.latencies]
        out[name] = {
            "rps": sum(len(r.latencies) for r in rs) / sum(r.seconds for r in rs),
            "p50": statistics.median(lat) * 1000,
            "p99": sorted(lat)[int(0.99 * len(lat))] * 1000,
            "failed": sum(r.failed for r in rs),
            "rounds_rps": [round(r.rps) for r in rs],
            "p50_1conn": statistics.median([x for r in single[name] for x in r.latencies]) * 1000,
            "rps_1conn": sum(len(r.latencies) for r in single[name])
            / sum(r.seconds for r in single[name]),
        }
    return out


# ---------------------------------------------------------------- 2. retrieval
def bench_retrieval(
    settings: OnlineSettings, version: str, questions: list[str]
) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer

    from core.encoder import bundled_model_path
    from core.index import load_index

    index = load_index(DATA / "indexes" / version, expected_model=settings.embedding_model)
    encoder = encoder_for(settings)
    raw_model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    faiss_index = index.faiss_index
    k = settings.top_k

    def raw(q: str) -> None:
        v = raw_model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
        faiss_index.search(np.ascontiguousarray(v, dtype=np.float32), k)

    def dense(q: str) -> None:
        index.search(encoder.encode([q])[0], q, k, lexical=False)

    def hybrid(q: str) -> None:
        index.search(encoder.encode([q])[0], q, k, lexical=True)

    fns = {"raw": raw, "dense": dense, "hybrid": hybrid}
    for q in questions[:20]:
        for f in fns.values():
            f(q)
    times: dict[str, list[float]] = {n: [] for n in fns}
    for q in questions:
        for name, f in fns.items():
            t0 = time.perf_counter()
            f(q)
            times[name].append(time.perf_counter() - t0)
    return {n: statistics.median(v) * 1000 for n, v in times.items()}


# ---------------------------------------------------------------- 3. generation
def bench_generation(
    settings: OnlineSettings, rounds: int, max_new_tokens: int
) -> dict[str, float]:
    import torch

    from core.llm.local import TransformersLocalLLM
    from online.llm.runner import GenerationRunner

    llm = TransformersLocalLLM(model_id=settings.llm_model, device="cpu")
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."},
    ]

    def raw() -> tuple[int, float]:
        inputs = llm.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = llm.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=llm.tokenizer.eos_token_id,
            )
        return int(out.shape[1] - inputs["input_ids"].shape[1]), time.perf_counter() - t0

    async def service(stream: bool) -> tuple[int, float]:
        runner = GenerationRunner(llm, concurrency=1, queue=8, timeout_s=600)
        t0 = time.perf_counter()
        if stream:
            tokens: list[int] = []
            runner._observe = lambda ttft, n, total: tokens.append(n)
            async for _ in runner.stream(messages, max_new_tokens=max_new_tokens):
                pass
            return tokens[0], time.perf_counter() - t0
        g = await runner.generate(messages, max_new_tokens=max_new_tokens)
        return g.tokens, time.perf_counter() - t0

    raw()  # warm-up
    rates: dict[str, list[float]] = {"raw": [], "service": [], "service_stream": []}
    for _ in range(rounds):
        n, s = raw()
        rates["raw"].append(n / s)
        n, s = asyncio.run(service(False))
        rates["service"].append(n / s)
        n, s = asyncio.run(service(True))
        rates["service_stream"].append(n / s)
    return {k: statistics.median(v) for k, v in rates.items()}


# ---------------------------------------------------------------- 4. swap under load
def bench_swap(
    args: argparse.Namespace, redis_url: str, v1: str, v2: str, questions: list[str]
) -> dict[str, Any]:
    import redis

    from shared_schemas.layout import LIVE_CHANNEL, LIVE_MANIFEST_KEY

    up_port, svc_port = free_port(), free_port()
    upstream = start("upstream", up_port, redis_url)
    svc = start("service", svc_port, redis_url, "--llm-url", f"http://127.0.0.1:{up_port}/v1")
    client = redis.Redis.from_url(redis_url)
    stop_flag = threading.Event()
    published: list[str] = []

    def publisher() -> None:
        versions = [v2, v1]
        i = 0
        while not stop_flag.wait(args.swap_every):
            v = versions[i % 2]
            i += 1
            (DATA / "indexes" / "LIVE").write_text(v)
            client.set(LIVE_MANIFEST_KEY, (DATA / "indexes" / v / "manifest.json").read_text())
            client.publish(LIVE_CHANNEL, v)
            published.append(v)

    try:
        body = lambda i: {"question": f"{questions[i % len(questions)]} #{i}"}  # noqa: E731
        t = threading.Thread(target=publisher)
        t.start()
        res = load(svc_port, body, seconds=args.swap_seconds, connections=8, keep_bodies=True)
        stop_flag.set()
        t.join()
        served = [json.loads(b).get("index_version") for b in res.bodies]
        degraded = sum(1 for b in res.bodies if json.loads(b).get("answer") is None)
        metrics = httpx.get(f"http://127.0.0.1:{svc_port}/metrics").text
        swaps = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("tandem_index_swaps_total")
        )
        return {
            "requests": len(res.latencies),
            "failed": res.failed,
            "degraded": degraded,
            "statuses": res.statuses,
            "errors": res.errors[:3],
            "published": len(published),
            "service_swaps": swaps - 1,  # the first is the start-up load
            "versions_served": {v: served.count(v) for v in set(served)},
            "rps": res.rps,
        }
    finally:
        stop(svc)
        stop(upstream)
        (DATA / "indexes" / "LIVE").write_text(v1)
        client.delete(LIVE_MANIFEST_KEY)


def cleanup(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for pattern in ("tandem:*", "bench:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--gen-rounds", type=int, default=3)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--swap-seconds", type=float, default=15.0)
    ap.add_argument("--swap-every", type=float, default=1.5)
    ap.add_argument("--only", default="hits,retrieval,generation,swap")
    ap.add_argument(
        "--port-base", type=int, default=0, help="Hits step: ports base+1, base+2; 0: any free."
    )
    ap.add_argument(
        "--hit-questions", type=int, default=20_000, help="Distinct warmed entries (hits step)."
    )
    args = ap.parse_args()
    only = set(args.only.split(","))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = OnlineSettings(data_dir=DATA, redis_url=args.redis_url, device="cpu")
    cleanup(args.redis_url)
    v1, v2 = prepare_indexes(settings)
    questions = squad_questions(500)
    print(f"SQuAD index versions {v1} (live), {v2}; {len(questions)} questions", flush=True)
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)

    if "hits" in only:
        hit_questions = squad_questions(args.hit_questions)
        warm(settings, args.redis_url, v1, hit_questions)
        print(f"warmed {len(hit_questions)} distinct entries", flush=True)
        svc_port, base_port = (
            (args.port_base + 1, args.port_base + 2)
            if args.port_base
            else (free_port(), free_port())
        )
        svc = start("service", svc_port, args.redis_url)
        base = start("baseline", base_port, args.redis_url)
        try:
            r = bench_hits(args, svc_port, base_port, hit_questions)
            rss = rss_mb(svc.pid)
        finally:
            stop(base)
            stop(svc)
        b, s = r["baseline"], r["service"]
        ratios = r["round_ratios"]
        print(
            f"\n[1] cache-hit path, {len(hit_questions)} distinct warmed entries cycled, "
            f"{args.connections} connections, "
            f"{args.rounds}x{args.seconds:.0f}s interleaved:\n"
            f"    baseline (1 Redis GET): {b['rps']:.0f} req/s p50 {b['p50']:.2f} ms "
            f"p99 {b['p99']:.2f} ms rounds {b['rounds_rps']}\n    service  (exact hit):   "
            f"{s['rps']:.0f} req/s p50 {s['p50']:.2f} ms p99 {s['p99']:.2f} ms "
            f"rounds {s['rounds_rps']}"
            f"\n    throughput ratio, median of {len(ratios)} rounds "
            f"{statistics.median(ratios):.3f}x "
            f"({min(ratios):.3f}-{max(ratios):.3f}; all rounds pooled {s['rps'] / b['rps']:.3f}x; "
            f"goal >= 0.85), load average {Path('/proc/loadavg').read_text().split()[:3]}, "
            f"p50 delta "
            f"{s['p50'] - b['p50']:+.2f} ms (goal <= +0.3), failed {b['failed']}/{s['failed']}"
            f"\n    one connection: baseline {b['rps_1conn']:.0f} req/s "
            f"p50 {b['p50_1conn']:.3f} ms, service {s['rps_1conn']:.0f} req/s "
            f"p50 {s['p50_1conn']:.3f} ms "
            f"(p50 delta {s['p50_1conn'] - b['p50_1conn']:+.3f} ms)"
        )
        print(f"\n[5] service RSS with both models and the SQuAD index loaded: {rss:.0f} MB")

    if "retrieval" in only:
        t = bench_retrieval(settings, v1, questions[:300])
        print(
            f"\n[2] retrieval step, median per question over 300: raw encode+faiss "
            f"{t['raw']:.2f} ms, service dense {t['dense']:.2f} ms ({t['dense'] / t['raw']:.3f}x, "
            f"goal <= 1.1), service hybrid (as served, +BM25 fusion) {t['hybrid']:.2f} ms "
            f"({t['hybrid'] / t['raw']:.3f}x)"
        )

    if "generation" in only:
        g = bench_generation(settings, args.gen_rounds, args.gen_tokens)
        print(
            f"\n[3] generation, greedy, {args.gen_tokens} new tokens, median of {args.gen_rounds}: "
            f"raw generate() {g['raw']:.1f} tok/s, service runner {g['service']:.1f} tok/s "
            f"({g['service'] / g['raw']:.3f}x), service streaming {g['service_stream']:.1f} tok/s "
            f"({g['service_stream'] / g['raw']:.3f}x) (goal >= 0.9)"
        )

    if "swap" in only:
        w = bench_swap(args, args.redis_url, v1, v2, questions)
        print(
            f"\n[4] index swap under load ({args.swap_seconds:.0f}s, 8 connections, live answers "
            f"via a stub upstream LLM, pointer moved every {args.swap_every}s): "
            f"{w['requests']} requests, "
            f"failed {w['failed']} (goal 0), degraded {w['degraded']}, published {w['published']}, "
            f"swaps done {w['service_swaps']:.0f}, served by version {w['versions_served']}, "
            f"{w['rps']:.0f} req/s, errors {w['errors']}"
        )
    cleanup(args.redis_url)


if __name__ == "__main__":
    main()
