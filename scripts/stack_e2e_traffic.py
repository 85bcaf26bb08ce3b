"""`make stack-e2e`'s traffic steps through the proxy: an answer live then from the cache,
blue-green switches under load, faults under load (kill -9 of the live track, a Redis restart),
and Prometheus's view of both tracks."""

from __future__ import annotations

import os
import signal
import time
import urllib.parse
from typing import Any

import stack_lifecycle as lifecycle
from stack_e2e_http import PROMETHEUS, REPLICAS, E2EError, Load, ask, during, http, log, wait_for
from stack_engine import run
from stack_hostnet import TRACKS


def live_then_cached(figures: dict[str, Any]) -> None:
    status, body, _, live_ms = ask()
    if status != 200 or not (body or {}).get("answer"):
        raise E2EError(f"live answer: HTTP {status}: {body}")
    status2, body2, _, cached_ms = ask()
    if status2 != 200 or body2.get("cache") != "exact":
        raise E2EError(f"second answer not from the cache: HTTP {status2}: {body2}")
    tier = (body.get("models") or {}).get("tier")
    if tier != "fast":
        raise E2EError(f"a live answer from tier {tier!r}, not fast: {body}")
    figures["answer"] = {
        "first_cache": body["cache"],
        "first_ms": round(live_ms),
        "first_tier": tier,
        "first_model": (body.get("models") or {}).get("llm"),
        "cached_ms": round(cached_ms, 1),
        "answer": str(body2["answer"])[:80],
    }
    log(f"answer live ({body['cache']}, {tier}) {live_ms:.0f} ms, then cached {cached_ms:.1f} ms")


def blue_green(figures: dict[str, Any]) -> None:
    lifecycle.switch("blue")
    load = Load()
    with load.running():
        during(load, 3)
        lifecycle.switch("green")
        during(load, 4)
        lifecycle.switch("blue")
        during(load, 3)
    figures["blue_green"] = load.figures()
    log(f"blue-green under load: {figures['blue_green']}")
    if load.failed:
        raise E2EError(f"blue-green: {len(load.failed)} failed: {load.failed[:3]}")
    if not (load.ok["blue"] and load.ok["green"]):
        raise E2EError(f"blue-green: not both tracks served: {dict(load.ok)}")


def restarts(container: str) -> int:
    out = run("inspect", "--format", "{{.RestartCount}}", container).stdout.strip()
    return int(out or 0)


def kill_live(figures: dict[str, Any]) -> None:
    live = lifecycle.live_track()
    container = f"tandem-online-{live}"
    before = restarts(container)
    load = Load()
    with load.running():
        during(load, 2)
        t0 = time.monotonic()
        # SIGKILL the server process itself, as a crash would: `podman kill` counts as stopped
        # by the user, and the restart policy leaves such a container down
        pid = int(run("inspect", "--format", "{{.State.Pid}}", container).stdout.strip())
        os.kill(pid, signal.SIGKILL)
        log(f"killed {container} (kill -9 {pid})")
        wait_for(
            f"{container} restarted", lambda: restarts(container) > before, timeout_s=120, poll_s=1
        )
        wait_for(
            f"{container} ready again",
            lambda: http("GET", f"{REPLICAS[live]}/readyz", timeout=5)[0] == 200,
            timeout_s=600,
        )
        recovered = time.monotonic() - t0
        during(load, 3)
    figures["kill9"] = {
        **load.figures(),
        "recovered_s": round(recovered, 1),
        "restarts": restarts(container) - before,
    }
    log(f"kill -9 {container}: {figures['kill9']}")
    if load.failed:
        raise E2EError(f"kill -9: {len(load.failed)} failed requests: {load.failed[:3]}")


def redis_restart(figures: dict[str, Any]) -> None:
    load = Load()
    with load.running():
        during(load, 2)
        t0 = time.monotonic()
        run("restart", "--time", "5", "tandem-redis")
        log("restarted tandem-redis")

        def redis_up_everywhere() -> bool:
            bodies = [http("GET", f"{u}/readyz", timeout=5)[1] for u in REPLICAS.values()]
            return all(isinstance(b, dict) and b.get("redis") == "up" for b in bodies)

        wait_for("both replicas see Redis again", redis_up_everywhere, timeout_s=180)
        recovered = time.monotonic() - t0
        during(load, 3)
    figures["redis_restart"] = {**load.figures(), "recovered_s": round(recovered, 1)}
    log(f"Redis restart: {figures['redis_restart']}")
    status, body, _, _ = ask()
    if status != 200 or body.get("cache") != "exact":
        raise E2EError(f"after the Redis restart the cache does not answer: {status} {body}")


def prometheus(figures: dict[str, Any]) -> None:
    def both() -> dict[str, int] | None:
        q = urllib.parse.quote('count by (track) ({__name__=~"tandem_.+", job="tandem-online"})')
        status, body, _ = http("GET", f"{PROMETHEUS}/api/v1/query?query={q}", timeout=10)
        if status != 200:
            return None
        series = {r["metric"].get("track", "?"): int(r["value"][1]) for r in body["data"]["result"]}
        return series if all(series.get(t) for t in TRACKS) else None

    figures["prometheus_series"] = wait_for(
        "Prometheus has both replicas' series", both, timeout_s=120
    )
    status, body, _ = http("GET", f"{PROMETHEUS}/api/v1/rules", timeout=10)
    rules = [r["name"] for g in body["data"]["groups"] for r in g["rules"]] if status == 200 else []
    figures["prometheus_rules"] = len(rules)
    if not any(r == "TandemIndexStale" for r in rules):
        raise E2EError(f"Prometheus did not load the alert rules: {rules}")
    log(f"Prometheus: series per track {figures['prometheus_series']}, {len(rules)} rules")
