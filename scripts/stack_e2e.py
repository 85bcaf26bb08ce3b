#!/usr/bin/env python3
"""`make stack-e2e`: the whole stack in containers, end to end; exits 1 on any failure.

1. build every image (as the cache stands; `--cold` adds --no-cache), then again after a
   one-line change in online/ (in a copy of the tree): only the source layers may rebuild;
2. start the stack from empty volumes and wait on the healthchecks;
3. trigger `tandem_index` through Airflow's REST API on a slice of SQuAD dev (the embed task is
   a SparkSubmitOperator on the Spark master container); wait for success; both online
   replicas serve the new version (`/v1/index`);
4. answer a question through the proxy, live (the fast tier) then from the cache; warm hot
   questions through Airflow's `tandem_hot_answers` (the deep tier, in the Airflow containers):
   the same question is then a cache hit produced by the deep tier, the fast answer replaced;
5. blue-green: under a bounded loopback load through the proxy, switch blue -> green -> blue;
   0 failed requests, both tracks seen;
6. faults under load: kill -9 the live online container (the restart policy brings it back, the
   proxy falls back to the other track), restart Redis (degraded, then recovered);
7. Prometheus: the tandem series of both replicas, through its HTTP API.

Prints one line of figures at the end and writes them to var/stack/e2e.json.
    python3 scripts/stack_e2e.py [--cold] [--articles N] [--keep]
The steps live in stack_e2e_airflow.py (3-4), stack_e2e_traffic.py (4-7) and stack_e2e_http.py
(HTTP, polling, the load); the stack itself in stack.py and its modules.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack_images as images
import stack_lifecycle as lifecycle
from stack_e2e_airflow import deep_warm, run_index_dag
from stack_e2e_http import E2EError, log
from stack_e2e_traffic import blue_green, kill_live, live_then_cached, prometheus, redis_restart
from stack_engine import VAR, StackError
from stack_secrets import ensure_secrets

# --------------------------------------------------------------------------- 1. build


def rebuilt_steps(log_path: Path) -> list[str]:
    """The build steps that ran (no 'Using cache' after them), from a podman build log."""
    steps: list[str] = []
    current = None
    cached = False
    for line in log_path.read_text(errors="replace").splitlines():
        if "] STEP " in line or line.startswith("STEP "):
            if current is not None and not cached:
                steps.append(current)
            current, cached = line.split(": ", 1)[-1], False
        elif "Using cache" in line:
            cached = True
    if current is not None and not cached:
        steps.append(current)
    return steps


def build(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    mode = args.mode or ("registry" if images.registry_answers() else "local")
    log(f"build ({mode} bases{', no cache' if args.cold else ''})")
    figures["build_s"] = images.build_images(mode, no_cache=args.cold)
    ctx = images.build_context(VAR / "e2e-context")
    with (ctx / "online" / "__init__.py").open("a") as out:
        out.write(f"# e2e one-line change {time.time():.0f}\n")
    log("warm build after a one-line change in online/")
    warm: dict[str, float] = {}
    for name in images.IMAGES:
        warm[name], log_path = images.build_one(name, ctx, mode, log_name=f"warm-{name}")
        ran = [s for s in rebuilt_steps(log_path) if s.split()[0] in ("RUN", "COPY")]
        first = ran[0] if ran else ""
        if not first.startswith("COPY online"):
            raise E2EError(f"warm build of {name}: the first rebuilt step is {first!r}")
        figures.setdefault("warm_rebuilt_steps", {})[name] = len(ran)
    figures["warm_build_s"] = warm
    shutil.rmtree(ctx)
    sizes = images.image_sizes()
    figures["image_mb"] = {k.split("/")[-1]: round(v / 1e6) for k, v in sizes.items()}


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cold", action="store_true", help="first build with --no-cache")
    parser.add_argument("--articles", type=int, default=1, help="SQuAD dev articles to index")
    parser.add_argument("--mode", choices=["local", "registry"])
    parser.add_argument("--skip-build", action="store_true", help="use the images as they are")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument(
        "--gate-answers",
        default="0",
        help="TANDEM_GATE_ANSWERS of the DAG's gate (0: retrieval gate only; the 300 generated "
        "answers of the default take an hour on 2 shared cores)",
    )
    args = parser.parse_args()
    os.environ["TANDEM_GATE_ANSWERS"] = args.gate_answers  # passed to the Airflow containers
    t0 = time.monotonic()
    figures: dict[str, Any] = {"load": Path("/proc/loadavg").read_text().split()[:3]}
    ok = False
    try:
        if args.skip_build:  # images built elsewhere (CI: with the layer cache)
            VAR.mkdir(parents=True, exist_ok=True)
            images.STATE_FILE.write_text(json.dumps({"mode": args.mode or "local"}))
        else:
            build(args, figures)
        log("a clean stack: removing the old one with its volumes")
        lifecycle.down(volumes=True)
        shutil.rmtree(VAR / "proxy", ignore_errors=True)
        figures["up_s"] = lifecycle.up()
        env = ensure_secrets()
        run_index_dag(env, figures, args.articles)
        figures["time_to_ready_s"] = round(
            time.monotonic()
            - t0
            - sum((figures.get("build_s") or {}).values())
            - sum((figures.get("warm_build_s") or {}).values()),
            1,
        )
        live_then_cached(figures)
        deep_warm(env, figures, args.articles)
        blue_green(figures)
        kill_live(figures)
        redis_restart(figures)
        prometheus(figures)
        ok = True
    except (E2EError, StackError, subprocess.SubprocessError) as exc:
        log(f"FAILED: {exc}")
    finally:
        figures["wall_s"] = round(time.monotonic() - t0, 1)
        figures["passed"] = ok
        figures["load_end"] = Path("/proc/loadavg").read_text().split()[:3]
        (VAR / "e2e.json").write_text(json.dumps(figures, indent=2))
        if not args.keep:
            lifecycle.down(volumes=False)
    print(
        "stack-e2e " + ("PASSED " if ok else "FAILED ") + json.dumps(figures, separators=(",", ":"))
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
