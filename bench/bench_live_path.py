"""The live answer path of ``POST /v1/query``, this code beside an earlier commit's, side by side
(issue 25: the redesign must leave the hit path and the live path within noise of before).

Every request is a question no cache holds (distinct SQuAD dev questions; both caches emptied
before each round), so each one goes the whole live way: exact and semantic lookup, embedding,
hybrid retrieval, the prompt, generation, write-through, the query log. Generation is a stand-in
OpenAI-compatible upstream that answers at once (``bench_online_servers.py upstream``), so the
figures are the service's own work, not a model's. Both services load the same SQuAD index
(``bench_online.py``'s versions), each with its own Redis database; rounds alternate between
them. The ratio is the median of the per-round ratios (this code / the earlier one) with their
spread, never the best round; the share of answers that really were live is printed.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/bench_live_path.py --before /tmp/before [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_llm import loadavg  # noqa: E402
from bench_online import (  # noqa: E402
    cleanup,
    free_port,
    prepare_indexes,
    squad_questions,
    start,
    stop,
)
from bench_online_load import LoadResult, load  # noqa: E402

from online.settings import OnlineSettings  # noqa: E402

PY = sys.executable


def live_round(port: int, questions: list[str], seconds: float, connections: int) -> LoadResult:
    stride = len(questions) // connections

    def body(i: int) -> dict[str, Any]:
        conn, n = divmod(i, 1_000_000)
        return {"question": questions[(conn * stride + n) % len(questions)]}

    return load(port, body, seconds=seconds, connections=connections, keep_bodies=True)


def live_share(result: LoadResult) -> float:
    outcomes = [json.loads(b).get("cache") for b in result.bodies]
    return sum(o == "miss" for o in outcomes) / len(outcomes) if outcomes else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, required=True, help="a worktree of the earlier commit")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379", help="dbs 8 and 10 are used")
    args = ap.parse_args()

    settings = OnlineSettings()
    v1, _ = prepare_indexes(settings)
    questions = squad_questions(10_000)
    urls = {"after": f"{args.redis}/10", "before": f"{args.redis}/8"}
    trees = {"after": ROOT, "before": args.before.resolve()}
    up_port = free_port()
    upstream = start("upstream", up_port, urls["after"])
    llm = ("--llm-url", f"http://127.0.0.1:{up_port}/v1")
    ports = {name: free_port() for name in trees}
    procs: dict[str, Any] = {}
    print(f"index {v1}; {len(questions)} questions; load at start {loadavg()}", flush=True)
    try:
        for name, tree in trees.items():
            cleanup(urls[name])
            procs[name] = start("service", ports[name], urls[name], *llm, tree=tree)
        for name in trees:  # warm-up: models loaded, first requests paid
            live_round(ports[name], questions[-200:], 1.0, args.connections)
        runs: dict[str, list[LoadResult]] = {name: [] for name in trees}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for name in order:
                cleanup(urls[name])
                runs[name].append(
                    live_round(ports[name], questions, args.seconds, args.connections)
                )
            print(
                f"   round {r + 1}: before {runs['before'][-1].rps:.1f} req/s, "
                f"after {runs['after'][-1].rps:.1f} req/s; load {loadavg()}",
                flush=True,
            )
    finally:
        for proc in procs.values():
            stop(proc)
        stop(upstream)
        for url in urls.values():
            cleanup(url)

    ratios = [a.rps / b.rps for a, b in zip(runs["after"], runs["before"], strict=True)]
    for name, rs in runs.items():
        lat = sorted(x for res in rs for x in res.latencies)
        print(
            f"{name:6}: {statistics.median(r.rps for r in rs):.1f} req/s (median of rounds "
            f"{[round(r.rps, 1) for r in rs]}), p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
            f"p99 {lat[int(0.99 * len(lat))] * 1000:.1f} ms, failed {sum(r.failed for r in rs)}, "
            f"live share {statistics.mean(live_share(r) for r in rs):.1%}"
        )
    print(
        f"live path, this code / before: median of {len(ratios)} rounds "
        f"{statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f}), "
        f"{args.connections} connections, load after {loadavg()}"
    )


if __name__ == "__main__":
    main()
