"""`make stack-e2e`'s Airflow steps, through its REST API: index a slice of SQuAD dev with
`tandem_index`, then warm hot questions with `tandem_hot_answers` (the deep tier)."""

from __future__ import annotations

import gzip
import json
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

from stack_e2e_http import AIRFLOW, QUESTION, REPLICAS, E2EError, ask, http, log, wait_for
from stack_engine import ROOT, VAR

#: SQuAD v1.1 dev beside the checkout (../shared/data/, its README), or TANDEM_SQUAD_DEV
SQUAD = Path(
    os.environ.get("TANDEM_SQUAD_DEV", ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json.gz")
)


def squad_slice(articles: int) -> tuple[Path, int]:
    with gzip.open(SQUAD, "rt", encoding="utf-8") as f:
        data = json.load(f)
    data["data"] = data["data"][:articles]
    path = VAR / "corpus" / "squad-slice.json"
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
        for track, url in REPLICAS.items():
            status, body, _ = http("GET", f"{url}/v1/index", timeout=5)
            versions[track] = (
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


def deep_warm(env: dict[str, str], figures: dict[str, Any], articles: int) -> None:
    """Warm QUESTION and two more through `tandem_hot_answers` (the deep tier's engine in the
    Airflow containers, its model fetched and verified there); each is then an exact hit whose
    answer the deep tier produced."""
    with gzip.open(SQUAD, "rt", encoding="utf-8") as f:
        data = json.load(f)
    more = [q["question"] for a in data["data"][:articles] for p in a["paragraphs"]
            for q in p["qas"]][5:7]  # fmt: skip
    questions = [QUESTION, *more]
    path = VAR / "corpus" / "hot-questions.txt"
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
