"""The service at 16, 64, 256 and 1,024 connections on cached questions (issue 27 item 2): wrk
(Debian's package) against ``POST /v1/query``, the questions cycled from ``--questions`` distinct
SQuAD dev questions warmed into the exact cache first; the baseline FastAPI app doing one Redis
GET per request measured at each level in the same run (interleaved).

For each level: requests/s, latency p50 / p99 (wrk's), non-2xx answers and wrk's socket errors
(timeouts: wrk gives up on a request after 2 s), and from the service's own metrics the answers
by cache outcome (a cached question must never be generated: ``miss`` stays 0) and the Redis
lookups that failed. wrk and both servers share this machine's cores: the ratio, not the rate,
is the comparable figure; the load average is printed.

    .venv/bin/python bench/bench_load_levels.py [--levels 16,64,256,1024] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_online import DATA, cleanup, free_port, prepare_indexes, squad_questions, start, warm  # noqa: E402

from online.settings import OnlineSettings  # noqa: E402

LUA = """
local questions = %s
local i = 0
request = function()
  i = i + 1
  local q = questions[(i %% #questions) + 1]
  return wrk.format("POST", "/v1/query", {["Content-Type"] = "application/json"}, q)
end
"""


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wrk(port: int, script: Path, connections: int, seconds: float) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s",
         "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def latency(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m[1]), m[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non2xx[1]) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "timeouts": int(errors[4]) if errors else 0,
    }


def answers(port: int) -> dict[str, float]:
    """The service's answers by cache outcome, and failed cache reads, from its metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r'tandem_answers_total\{cache="(\w+)"', line)
        if m:
            out[m[1]] = out.get(m[1], 0.0) + float(line.split()[-1])
        if line.startswith("tandem_cache_unavailable_total{"):
            out["cache_unavailable"] = out.get("cache_unavailable", 0.0) + float(line.split()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="16,64,256,1024")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--questions", type=int, default=100_000, help="distinct ones (all: 10,529)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = ap.parse_args()
    # 1,024 connections need more than the usual 1,024 descriptors, in wrk and in the servers
    # (children inherit the limit)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65_536), hard))
    settings = OnlineSettings(data_dir=DATA, redis_url=args.redis_url, device="cpu")
    cleanup(args.redis_url)
    v1, _ = prepare_indexes(settings)
    questions = squad_questions(args.questions)
    warm(settings, args.redis_url, v1, questions)
    bodies = [json.dumps({"question": q}) for q in questions]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        lua_list = "{" + ",".join(json.dumps(b) for b in bodies) + "}"
        script.write_text(LUA % lua_list)
        svc_port, base_port = free_port(), free_port()
        svc = start("service", svc_port, args.redis_url)
        base = start("baseline", base_port, args.redis_url)
        try:
            print(f"{len(questions)} warmed questions cycled; {args.seconds:.0f} s a level; "
                  f"load {loadavg()}", flush=True)  # fmt: skip
            wrk(svc_port, script, 16, 2)  # warm-up
            wrk(base_port, script, 16, 2)
            for level in (int(x) for x in args.levels.split(",")):
                before = answers(svc_port)
                s = wrk(svc_port, script, level, args.seconds)
                after = answers(svc_port)
                b = wrk(base_port, script, level, args.seconds)
                delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                print(
                    f"{level:5d} connections: service {s['rps']:,.0f} req/s p50 {s['p50_ms']:.1f} "
                    f"p99 {s['p99_ms']:.1f} ms, non-2xx {s['non_2xx']}, wrk timeouts "
                    f"{s['timeouts']} (socket errors {s['socket_errors']}); answers "
                    f"{ {k: int(v) for k, v in delta.items() if v} }; baseline "
                    f"{b['rps']:,.0f} req/s p50 {b['p50_ms']:.1f} p99 {b['p99_ms']:.1f} ms "
                    f"(non-2xx {b['non_2xx']}, timeouts {b['timeouts']}); ratio "
                    f"{s['rps'] / b['rps'] if b['rps'] else float('inf'):.2f}x; load {loadavg()}",
                    flush=True,
                )
                time.sleep(1)  # let the last connections close before the next level
        finally:
            for proc in (svc, base):
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
