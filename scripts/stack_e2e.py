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
   0 failed requests, both colours seen;
6. faults under load: kill -9 the live online container (the restart policy brings it back, the
   proxy falls back to the other colour), restart Redis (degraded, then recovered);
7. Prometheus: the tandem series of both replicas, through its HTTP API.

Prints one line of figures at the end and writes them to var/stack/e2e.json.
    python3 scripts/stack_e2e.py [--cold] [--articles N] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

ROOT = stack.ROOT
#: SQuAD v1.1 dev beside the checkout (../shared/data/, its README), or TANDEM_SQUAD_DEV
SQUAD = Path(
    os.environ.get("TANDEM_SQUAD_DEV", ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json.gz")
)
PROXY = f"http://{stack.LOOPBACK}:{stack.PORTS['proxy']}"
AIRFLOW = f"http://{stack.LOOPBACK}:{stack.PORTS['airflow']}"
PROMETHEUS = f"http://{stack.LOOPBACK}:{stack.PORTS['prometheus']}"
REPLICAS = {c: f"http://{stack.LOOPBACK}:{stack.PORTS[c]}" for c in stack.COLOURS}
QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"


class E2EError(Exception):
    pass


def log(msg: str) -> None:
    print(f"e2e [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- HTTP


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload, hdrs


def wait_for(what: str, check: Callable[[], Any], *, timeout_s: float, poll_s: float = 2) -> Any:
    """Poll ``check`` until it returns something truthy; raises after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(poll_s)  # poll the service
    raise E2EError(f"{what}: not after {timeout_s:.0f} s (last: {str(last)[:300]})")


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
    mode = args.mode or ("registry" if stack.registry_answers() else "local")
    log(f"build ({mode} bases{', no cache' if args.cold else ''})")
    figures["build_s"] = stack.build_images(mode, no_cache=args.cold)
    ctx = stack.build_context(stack.VAR / "e2e-context")
    with (ctx / "online" / "__init__.py").open("a") as out:
        out.write(f"# e2e one-line change {time.time():.0f}\n")
    log("warm build after a one-line change in online/")
    warm: dict[str, float] = {}
    for name in stack.IMAGES:
        warm[name], log_path = stack.build_one(name, ctx, mode, log_name=f"warm-{name}")
        ran = [s for s in rebuilt_steps(log_path) if s.split()[0] in ("RUN", "COPY")]
        first = ran[0] if ran else ""
        if not first.startswith("COPY online"):
            raise E2EError(f"warm build of {name}: the first rebuilt step is {first!r}")
        figures.setdefault("warm_rebuilt_steps", {})[name] = len(ran)
    figures["warm_build_s"] = warm
    shutil.rmtree(ctx)
    figures["image_mb"] = {k.split("/")[-1]: round(v / 1e6) for k, v in stack.image_sizes().items()}


# --------------------------------------------------------------------------- 3. index


def squad_slice(articles: int) -> tuple[Path, int]:
    with gzip.open(SQUAD, "rt", encoding="utf-8") as f:
        data = json.load(f)
    data["data"] = data["data"][:articles]
    path = stack.VAR / "corpus" / "squad-slice.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    os.chmod(path, 0o644)
    questions = sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])
    return path, questions


def airflow_token(env: dict[str, str]) -> dict[str, str]:
    status, body, _ = http(
        "POST",
        f"{AIRFLOW}/auth/token",
        {"username": "admin", "password": env["AIRFLOW_ADMIN_PASSWORD"]},
    )
    if status not in (200, 201):
        raise E2EError(f"Airflow token: HTTP {status}: {body}")
    return {"Authorization": f"Bearer {body['access_token']}"}


def cancel_scheduled_runs(dag: str, headers: dict[str, str]) -> None:
    """Unpausing makes the scheduler create the latest scheduled run (default source: the demo
    corpus), which would run before the manual one (max_active_runs=1): it is not part of the
    test, mark it failed whenever it shows up."""
    _, runs, _ = http("GET", f"{dag}/dagRuns?state=queued&state=running", headers=headers)
    for other in (runs or {}).get("dag_runs", []):
        if other["run_type"] == "scheduled":
            url = f"{dag}/dagRuns/{urllib.parse.quote(other['dag_run_id'])}"
            http("PATCH", url, {"state": "failed"}, headers=headers)
            log(f"marked the scheduled run {other['dag_run_id']} failed (not part of the test)")


def wait_dag_run(
    env: dict[str, str], dag: str, run_url: str, what: str, *, timeout_s: float
) -> tuple[str, dict[str, str]]:
    """The final state of a DAG run (success or failed) and the token headers then valid;
    scheduled runs the unpause created are cancelled on the way."""
    headers = airflow_token(env)

    def finished() -> str | None:
        nonlocal headers
        status, body, _ = http("GET", run_url, headers=headers)
        if status == 401:
            headers = airflow_token(env)
            return None
        cancel_scheduled_runs(dag, headers)
        state = body.get("state") if isinstance(body, dict) else None
        return state if state in ("success", "failed") else None

    state = wait_for(f"{what} finished", finished, timeout_s=timeout_s, poll_s=5)
    return str(state), headers


def log_task(run_url: str, task_id: str, headers: dict[str, str]) -> None:
    """The last lines of a task's log, for a failed run."""
    _, text, _ = http(
        "GET",
        f"{run_url}/taskInstances/{task_id}/logs/1?full_content=true",
        headers={**headers, "Accept": "text/plain"},
    )
    log(f"{task_id} log:\n{str(text)[-3000:]}")


def run_index_dag(env: dict[str, str], figures: dict[str, Any], articles: int) -> str:
    _, questions = squad_slice(articles)
    headers = airflow_token(env)
    dag = f"{AIRFLOW}/api/v2/dags/tandem_index"
    wait_for(
        "tandem_index parsed", lambda: http("GET", dag, headers=headers)[0] == 200, timeout_s=300
    )
    status, body, _ = http("PATCH", dag, {"is_paused": False}, headers=headers)
    if status != 200:
        raise E2EError(f"unpause: HTTP {status}: {body}")
    day = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())
    conf = {"source": "/corpus/squad-slice.json", "warm_candidate": True}
    t0 = time.monotonic()
    status, run, _ = http(
        "POST", f"{dag}/dagRuns", {"logical_date": day, "conf": conf}, headers=headers
    )
    if status not in (200, 201):
        raise E2EError(f"trigger: HTTP {status}: {run}")
    run_url = f"{dag}/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
    log(f"triggered {run['dag_run_id']} on {articles} SQuAD articles ({questions} questions)")

    state, headers = wait_dag_run(env, dag, run_url, "tandem_index run", timeout_s=2400)
    _, tis, _ = http("GET", f"{run_url}/taskInstances", headers=headers)
    tasks = {t["task_id"]: (t["state"], t.get("operator")) for t in tis["task_instances"]}
    figures["dag_run_s"] = round(time.monotonic() - t0, 1)
    figures["dag_tasks"] = {k: v[0] for k, v in tasks.items()}
    figures["embed_operator"] = tasks.get("embed", (None, None))[1]
    if state != "success":
        for task_id, (st, _op) in tasks.items():
            if st == "failed":
                log_task(run_url, task_id, headers)
        raise E2EError(f"tandem_index run {state}: {tasks}")
    log(f"tandem_index succeeded in {figures['dag_run_s']} s: {figures['dag_tasks']}")

    def both_serve() -> str | None:
        versions = {}
        for colour, url in REPLICAS.items():
            status, body, _ = http("GET", f"{url}/v1/index", timeout=5)
            versions[colour] = (
                body.get("version") if status == 200 and isinstance(body, dict) else None
            )
        ready = all(http("GET", f"{u}/readyz", timeout=5)[0] == 200 for u in REPLICAS.values())
        one = set(versions.values())
        return one.pop() if ready and len(one) == 1 and None not in one else None

    version = wait_for("both replicas serve the new version", both_serve, timeout_s=300)
    if not str(version).startswith(day[:10].replace("-", "")):
        raise E2EError(f"replicas serve {version}, not a version of {day[:10]}")
    figures["index_version"] = version
    return str(version)


# --------------------------------------------------------------------------- 4-6. traffic


def ask(question: str = QUESTION, timeout: float = 120) -> tuple[int, Any, dict[str, str], float]:
    t0 = time.perf_counter()
    status, body, headers = http(
        "POST",
        f"{PROXY}/v1/query",
        {"question": question, "user_id": "stack-e2e"},
        timeout=timeout,
    )
    return status, body, headers, (time.perf_counter() - t0) * 1000


def colour_of(headers: dict[str, str]) -> str:
    upstream = headers.get("X-Tandem-Upstream", "").split(",")[-1].strip()
    for colour in stack.COLOURS:
        if upstream.endswith(f":{stack.PORTS[colour]}"):
            return colour
    return "unknown"


class Load:
    """Bounded loopback load through the proxy: ``workers`` threads, one request in flight each,
    each at most ``per_s`` requests a second."""

    def __init__(self, workers: int = 3, per_s: float = 5.0, question: str = QUESTION) -> None:
        # 3 x 5 requests/s: under the service's default rate limit (20/s, burst 50, per client;
        # every request comes from the proxy's address)
        self.workers, self.question, self.interval = workers, question, 1.0 / per_s
        self.stop = threading.Event()
        self.ok: Counter[str] = Counter()
        self.failed: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(workers)]

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.stop.wait(self.interval)  # pacing: a bounded request rate, not synchronisation
            try:
                status, body, headers, _ms = ask(self.question, timeout=60)
            except OSError as exc:
                with self.lock:
                    self.failed.append(f"{type(exc).__name__}: {exc}")
                continue
            with self.lock:
                if status == 200 and isinstance(body, dict) and body.get("answer"):
                    self.ok[colour_of(headers)] += 1
                else:
                    self.failed.append(f"HTTP {status}: {str(body)[:200]}")

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return sum(self.ok.values()), len(self.failed)

    @contextmanager
    def running(self) -> Iterator[Load]:
        for t in self.threads:
            t.start()
        try:
            yield self
        finally:
            self.stop.set()
            for t in self.threads:
                t.join(timeout=90)

    def figures(self) -> dict[str, Any]:
        return {"ok": sum(self.ok.values()), "failed": len(self.failed), **dict(self.ok)}


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


def deep_warm(env: dict[str, str], figures: dict[str, Any], articles: int) -> None:
    """Warm QUESTION and two more through `tandem_hot_answers` (the deep tier's engine in the
    Airflow containers, its model fetched and verified there); each is then an exact hit whose
    answer the deep tier produced."""
    with gzip.open(SQUAD, "rt", encoding="utf-8") as f:
        data = json.load(f)
    more = [q["question"] for a in data["data"][:articles] for p in a["paragraphs"]
            for q in p["qas"]][5:7]  # fmt: skip
    questions = [QUESTION, *more]
    path = stack.VAR / "corpus" / "hot-questions.txt"
    path.write_text("".join(q + "\n" for q in questions))
    os.chmod(path, 0o644)
    headers = airflow_token(env)
    dag = f"{AIRFLOW}/api/v2/dags/tandem_hot_answers"
    status, body, _ = http("PATCH", dag, {"is_paused": False}, headers=headers)
    if status != 200:
        raise E2EError(f"unpause tandem_hot_answers: HTTP {status}: {body}")
    t0 = time.monotonic()
    status, run, _ = http(
        "POST",
        f"{dag}/dagRuns",
        {
            "logical_date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "conf": {"questions_file": "/corpus/hot-questions.txt"},
        },
        headers=headers,
    )
    if status not in (200, 201):
        raise E2EError(f"trigger tandem_hot_answers: HTTP {status}: {run}")
    run_url = f"{dag}/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"

    state, headers = wait_dag_run(env, dag, run_url, "tandem_hot_answers run", timeout_s=1800)
    took = round(time.monotonic() - t0, 1)
    if state != "success":
        log_task(run_url, "warm", headers)
        raise E2EError(f"tandem_hot_answers run {state}")
    tiers = []
    for question in questions:
        status, body, _, _ms = ask(question)
        tier = (body.get("models") or {}).get("tier") if isinstance(body, dict) else None
        if status != 200 or body.get("cache") != "exact" or tier != "deep":
            raise E2EError(f"after the deep warm, {question!r}: HTTP {status}: {body}")
        tiers.append(tier)
    figures["deep_warm"] = {
        "questions": len(questions),
        "dag_run_s": took,
        "served": "exact",
        "tiers": sorted(set(tiers)),
        "answer": str(body["answer"])[:80],
    }
    log(f"deep warm of {len(questions)} questions in {took} s: each now an exact hit from deep")


def during(load: Load, seconds: float) -> None:
    """Let the load run ``seconds`` more and at least a few more requests succeed."""
    ok0, _ = load.snapshot()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or load.snapshot()[0] < ok0 + 5:
        time.sleep(0.2)  # the load threads do the work; this only paces the scenario
        if time.monotonic() > deadline + 60:
            raise E2EError("the load made no progress")


def blue_green(figures: dict[str, Any]) -> None:
    stack.switch("blue")
    load = Load()
    with load.running():
        during(load, 3)
        stack.switch("green")
        during(load, 4)
        stack.switch("blue")
        during(load, 3)
    figures["blue_green"] = load.figures()
    log(f"blue-green under load: {figures['blue_green']}")
    if load.failed:
        raise E2EError(f"blue-green: {len(load.failed)} failed: {load.failed[:3]}")
    if not (load.ok["blue"] and load.ok["green"]):
        raise E2EError(f"blue-green: not both colours served: {dict(load.ok)}")


def restarts(container: str) -> int:
    out = stack.run("inspect", "--format", "{{.RestartCount}}", container).stdout.strip()
    return int(out or 0)


def kill_live(figures: dict[str, Any]) -> None:
    live = stack.live_colour()
    container = f"tandem-online-{live}"
    before = restarts(container)
    load = Load()
    with load.running():
        during(load, 2)
        t0 = time.monotonic()
        # SIGKILL the server process itself, as a crash would: `podman kill` counts as stopped
        # by the user, and the restart policy leaves such a container down
        pid = int(stack.run("inspect", "--format", "{{.State.Pid}}", container).stdout.strip())
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
        stack.run("restart", "--time", "5", "tandem-redis")
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


# --------------------------------------------------------------------------- 7. Prometheus


def prometheus(figures: dict[str, Any]) -> None:
    def both() -> dict[str, int] | None:
        q = urllib.parse.quote('count by (colour) ({__name__=~"tandem_.+", job="tandem-online"})')
        status, body, _ = http("GET", f"{PROMETHEUS}/api/v1/query?query={q}", timeout=10)
        if status != 200:
            return None
        series = {
            r["metric"].get("colour", "?"): int(r["value"][1]) for r in body["data"]["result"]
        }
        return series if all(series.get(c) for c in stack.COLOURS) else None

    figures["prometheus_series"] = wait_for(
        "Prometheus has both replicas' series", both, timeout_s=120
    )
    status, body, _ = http("GET", f"{PROMETHEUS}/api/v1/rules", timeout=10)
    rules = [r["name"] for g in body["data"]["groups"] for r in g["rules"]] if status == 200 else []
    figures["prometheus_rules"] = len(rules)
    if not any(r == "TandemIndexStale" for r in rules):
        raise E2EError(f"Prometheus did not load the alert rules: {rules}")
    log(f"Prometheus: series per colour {figures['prometheus_series']}, {len(rules)} rules")


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
            stack.VAR.mkdir(parents=True, exist_ok=True)
            stack.STATE_FILE.write_text(json.dumps({"mode": args.mode or "local"}))
        else:
            build(args, figures)
        log("a clean stack: removing the old one with its volumes")
        stack.down(volumes=True)
        shutil.rmtree(stack.VAR / "proxy", ignore_errors=True)
        figures["up_s"] = stack.up()
        env = stack.ensure_secrets()
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
    except (E2EError, stack.StackError, subprocess.SubprocessError) as exc:
        log(f"FAILED: {exc}")
    finally:
        figures["wall_s"] = round(time.monotonic() - t0, 1)
        figures["passed"] = ok
        figures["load_end"] = Path("/proc/loadavg").read_text().split()[:3]
        (stack.VAR / "e2e.json").write_text(json.dumps(figures, indent=2))
        if not args.keep:
            stack.down(volumes=False)
    print(
        "stack-e2e " + ("PASSED " if ok else "FAILED ") + json.dumps(figures, separators=(",", ":"))
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
