"""The LLM engine against the in-process backend, side by side in one run.

1. load: seconds until each backend can answer (engine: spawn + /health; in-process: the GGUF
   de-quantised to fp32 through transformers);
2. a live answer end to end (embed + search + generate up to 64 tokens, ``Answerer.answer_once``
   on a SQuAD dev index), alternating the backends question by question: p50 / p90 per backend
   and the ratio of medians;
3. decode speed: tokens/s on a fixed prompt with 64 tokens forced (engine: its own ``timings``;
   in-process: tokens over generate time), against the memory-bandwidth ceiling (bytes of weights
   read per token vs this machine's measured copy bandwidth);
4. concurrency on the engine: 4 requests at once vs one at a time, aggregate tokens/s and p99;
5. service ready: ``tandem serve`` started until ``/readyz`` answers 200, engine backend.

Every figure is the median of its runs with the spread (min-max) and the load average.

    .venv/bin/python bench/bench_llm.py [--questions 12] [--rounds 3] [--skip-inproc]
        [--prompts p3,p4] [--engine-before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from core.answering import Answerer  # noqa: E402
from core.bootstrap import answer_config  # noqa: E402
from core.encoder import get_encoder  # noqa: E402
from core.llm.base import LLMBackend  # noqa: E402
from core.llm.local import bundled_gguf_path  # noqa: E402
from shared_schemas.config import LLM_MODEL_ID, CommonSettings, EngineLLMConfig  # noqa: E402

DATA = ROOT / "var" / "bench" / "llm"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json.gz"
FIXED = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."},
]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spread(xs: list[float], unit: str = "", fmt: str = ".2f") -> str:
    med, lo, hi = statistics.median(xs), min(xs), max(xs)
    return f"{med:{fmt}}{unit} (min {lo:{fmt}}, max {hi:{fmt}}, n={len(xs)})"


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def squad_slice(n_paragraphs: int) -> tuple[list[Any], list[str]]:
    import gzip
    import json

    from batch.labelled import iter_squad_paragraphs

    data = json.loads(gzip.decompress(SQUAD.read_bytes()))
    paras = list(iter_squad_paragraphs(data))[:n_paragraphs]
    titles = {p.title for p in paras}
    questions = [
        qa["question"]
        for article in data["data"]
        if article["title"].replace("_", " ") in titles or article["title"] in titles
        for para in article["paragraphs"]
        for qa in para["qas"][:1]
    ]
    return paras, questions


def build_index(paras: list[Any]) -> Any:
    import pyarrow as pa

    from batch.settings import BatchSettings
    from core.index import load_index
    from core.index.trust import record_published
    from core.index.writer import write_index_version
    from shared_schemas.documents import Chunk

    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paras]
    cols = ["chunk_id", "doc_id", "title", "text", "content_hash"]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in cols})
    vecs = get_encoder(device="cpu").encode([f"{c.title}\n{c.text}" for c in chunks])
    bs = BatchSettings(data_dir=DATA)
    manifest = write_index_version(
        table,
        vecs,
        indexes_dir=bs.indexes_dir,
        embedding_model=bs.embedding_model,
        source_snapshot="squad-slice",
        run_date=date(2026, 1, 1),
    )
    (bs.indexes_dir / "LIVE").write_text(manifest.index_version)
    # the service loads only what publish recorded (core.index.trust), as after `tandem index`
    record_published(bs.indexes_dir, manifest.index_version)
    return load_index(bs.indexes_dir / manifest.index_version, expected_model=bs.embedding_model)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def build_engine(parallel: int, threads_batch: int = 0) -> LLMBackend:
    from core.llm.factory import build_backend

    return build_backend(
        EngineLLMConfig(model_id=LLM_MODEL_ID, parallel=parallel, threads_batch=threads_batch)
    )


def build_inproc() -> LLMBackend:
    from core.llm.local import TransformersLocalLLM

    llm = TransformersLocalLLM(model_id=LLM_MODEL_ID, device="cpu", max_time_s=120)
    llm.generate(FIXED, max_new_tokens=1)  # type: ignore[arg-type]
    return llm


def copy_bandwidth_gbs(rounds: int) -> list[float]:
    src = np.ones(64 * 1024 * 1024, dtype=np.float64)  # 512 MiB
    dst = np.empty_like(src)
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        out.append(2 * src.nbytes / (time.perf_counter() - t0) / 1e9)  # read + write
    return out


def engine_decode(llm: Any, n_tokens: int = 64) -> tuple[float, float]:
    """(decode tokens/s, prompt tokens/s) from the engine's own timings, 64 tokens forced."""
    resp = httpx.post(
        f"{llm.engine.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {llm.engine.api_key}"},
        json={
            "messages": FIXED,
            "max_tokens": n_tokens,
            "temperature": 0,
            "ignore_eos": True,
            "cache_prompt": False,
        },
        timeout=120,
    )
    resp.raise_for_status()
    timings = resp.json()["timings"]
    return float(timings["predicted_per_second"]), float(timings["prompt_per_second"])


def inproc_decode(llm: Any, n_tokens: int = 64) -> float:
    from core.llm.base import GenerationStats

    stats = GenerationStats()
    t0 = time.perf_counter()
    llm.generate(FIXED, max_new_tokens=n_tokens, stats=stats)
    return stats.tokens / (time.perf_counter() - t0)


def concurrency(
    llm: LLMBackend, n: int, rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """(aggregate tok/s one at a time, aggregate tok/s n at once, per-request latencies at n)."""
    from core.llm.base import GenerationStats

    def one(_: int) -> tuple[float, int]:
        stats = GenerationStats()
        t0 = time.perf_counter()
        llm.generate(FIXED, max_new_tokens=48, stats=stats)  # type: ignore[arg-type]
        return time.perf_counter() - t0, stats.tokens

    seq, par, lat = [], [], []
    with ThreadPoolExecutor(n) as pool:
        for _ in range(rounds):
            t0 = time.perf_counter()
            toks = sum(one(i)[1] for i in range(n))
            seq.append(toks / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            results = list(pool.map(one, range(n)))
            par.append(sum(t for _, t in results) / (time.perf_counter() - t0))
            lat += [s for s, _ in results]
    return seq, par, lat


def service_ready(rounds: int) -> list[float]:
    """Seconds from ``tandem serve`` to /readyz 200 (engine backend, the index above)."""
    from core.llm.engine import free_port

    out = []
    for _ in range(rounds):
        port = free_port()
        env = {
            **os.environ,
            "TANDEM_DATA_DIR": str(DATA),
            "TANDEM_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
            "TANDEM_ADMIN_TOKEN": "bench-admin-token-not-for-production",
            "TANDEM_RATE_LIMITS__ENABLED": "false",
            "TANDEM_LLM_BACKEND": "engine",
            "TANDEM_DEVICE": "cpu",
        }
        tandem = str(Path(sys.executable).with_name("tandem"))
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [tandem, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = t0 + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError("service did not become ready")
                time.sleep(0.05)  # poll interval of a bounded wait
            out.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paragraphs", type=int, default=300)
    ap.add_argument("--skip-inproc", action="store_true", help="engine figures only")
    ap.add_argument(
        "--engine-before",
        action="store_true",
        help="also the engine as it was before 2026-12-06 (prompt on the decode threads: half "
        "the cores), side by side",
    )
    ap.add_argument(
        "--prompts", default="", help="comma-separated prompt versions (default: the settings')"
    )
    args = ap.parse_args()
    print(f"load average at start: {loadavg()}", flush=True)

    paras, questions = squad_slice(args.paragraphs)
    questions = questions[: args.questions]
    index = build_index(paras)
    settings = CommonSettings()
    encoder = get_encoder(device="cpu")

    engine_load, engine = timed(lambda: build_engine(parallel=4))
    backends: dict[str, LLMBackend] = {"engine": engine}
    loads = {"engine": engine_load}
    if args.engine_before:
        before = (os.cpu_count() or 2) // 2 or 1
        loads["engine-pp1"], backends["engine-pp1"] = timed(
            lambda: build_engine(parallel=4, threads_batch=before)
        )
    if not args.skip_inproc:
        loads["in-process"], backends["in-process"] = timed(build_inproc)
    print("\n1. load until the first answer can start")
    for name, s in loads.items():
        print(f"   {name:<11} {s:6.1f} s")

    prompts = [v for v in args.prompts.split(",") if v] or [settings.prompt_version]
    print(
        f"\n2. live answer end to end ({len(questions)} SQuAD questions, top_k={settings.top_k}, "
        f"<= {settings.max_new_tokens} tokens, prompts {', '.join(prompts)}), alternating "
        "question by question"
    )
    arms: dict[str, Answerer] = {}
    for version in prompts:
        # the settings' cap again: the default prompt's own cap (p4: 16) is already applied
        config = replace(
            answer_config(settings), prompt_version=version, max_new_tokens=settings.max_new_tokens
        )
        for name, llm in backends.items():
            arms[f"{name} {version}"] = Answerer(encoder=encoder, llm=llm, config=config)
    lat: dict[str, list[float]] = {arm: [] for arm in arms}
    toks: dict[str, list[int]] = {arm: [] for arm in arms}
    for q in questions:
        for arm, answerer in arms.items():
            s, result = timed(lambda a=answerer, q=q: a.answer_once(q, index))  # type: ignore[misc]
            lat[arm].append(s)
            toks[arm].append(result.tokens)
    for arm in arms:
        print(
            f"   {arm:<14} p50 {spread(lat[arm], ' s')}, p90 {pct(lat[arm], 90):.2f} s, "
            f"tokens median {statistics.median(toks[arm]):.0f}"
        )
    for version in prompts:
        engine_p50 = statistics.median(lat[f"engine {version}"])
        if f"in-process {version}" in lat:
            ratio = statistics.median(lat[f"in-process {version}"]) / engine_p50
            print(f"   {version}: engine {ratio:.1f}x faster than in-process (ratio of medians)")
        if f"engine-pp1 {version}" in lat:
            ratio = statistics.median(lat[f"engine-pp1 {version}"]) / engine_p50
            print(f"   {version}: engine {ratio:.2f}x faster than engine-pp1 (ratio of medians)")
    print("   goals: engine >= 4x faster than in-process; engine p50 <= 1.5 s")

    print("\n3. decode, 64 tokens forced on a fixed prompt")
    bw = copy_bandwidth_gbs(args.rounds + 2)
    weights = bundled_gguf_path().stat().st_size
    ceiling = statistics.median(bw) * 1e9 / weights
    print(
        f"   copy bandwidth {spread(bw, ' GB/s')}; weights {weights / 1e6:.0f} MB read per token"
        f" -> ceiling {ceiling:.0f} tokens/s"
    )
    for name in [n for n in backends if n.startswith("engine")]:
        dec, pp = zip(*(engine_decode(backends[name]) for _ in range(args.rounds)), strict=True)
        print(
            f"   {name:<11} decode {spread(list(dec), ' tok/s', '.0f')} = "
            f"{statistics.median(dec) / ceiling:.0%} of the ceiling; "
            f"prompt {spread(list(pp), ' tok/s', '.0f')}"
        )
    if "in-process" in backends:
        ip = [inproc_decode(backends["in-process"]) for _ in range(args.rounds)]
        print(f"   in-process  decode {spread(ip, ' tok/s', '.0f')}")

    print("\n4. engine, 4 requests at once vs one at a time (48 tokens each)")
    seq, par, clat = concurrency(engine, 4, args.rounds)
    print(
        f"   one at a time {spread(seq, ' tok/s', '.0f')}; 4 at once {spread(par, ' tok/s', '.0f')}"
        f" (ratio {statistics.median(par) / statistics.median(seq):.2f}); "
        f"latency at 4: p50 {pct(clat, 50):.2f} s, p99 {pct(clat, 99):.2f} s"
    )

    for llm in backends.values():
        llm.close()

    print("\n5. service ready (tandem serve -> /readyz 200, engine backend)")
    ready = service_ready(args.rounds)
    print(f"   {spread(ready, ' s', '.1f')} (goal <= 10 s)")
    print(f"\nload average at end: {loadavg()}")


if __name__ == "__main__":
    tempfile.tempdir = str(DATA / "tmp")
    (DATA / "tmp").mkdir(parents=True, exist_ok=True)
    main()
