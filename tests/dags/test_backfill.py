"""A backfill over two dates, created through the REST API the UI calls, run by a real scheduler.

``scripts/airflow.sh start`` brings up api-server, scheduler, dag-processor and triggerer on a
free loopback port with their own AIRFLOW_HOME; the test authenticates like the UI (simple auth
manager token), creates the backfill, waits for it to complete, checks the two partitions, then
reprocesses the same dates and checks that nothing on disk changed.

The metadata database is a fresh PostgreSQL one (the machine's server, as in production): on
SQLite, a backfill POST answered 503 "database is locked" had created its runs and rolled them
back under the scheduler, whose loop then died on the vanished run (`ObjectDeletedError`), and
the backfill waited forever (seen once in a CI run on a loaded machine).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dags.live_airflow import running_airflow
from tests.dags.test_pipeline_dags import tree_digest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKFILL_TIMEOUT_S = 900


def _poll(check: Any, *, timeout: float, what: str, interval: float = 2.0) -> Any:
    """Call ``check`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # polling an external server's state, not synchronising threads


def retryable(status: int) -> bool:
    """Answers worth asking again: server errors (SQLite 'database is locked' is a 503) and
    409 conflicts (another backfill of the DAG still finishing)."""
    return status >= 500 or status == 409


def _request_until_answered(
    send: Any, *, timeout: float, what: str, interval: float = 3.0
) -> httpx.Response:
    """``send()`` until the API gives a non-retryable answer; after ``timeout``, fail with the
    last answer's status and body."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp: httpx.Response = send()
        except httpx.TransportError as exc:  # the API server restarting
            last = f"transport error: {exc}"
        else:
            if not retryable(resp.status_code):
                return resp
            last = f"{resp.status_code}: {resp.text[:2000]}"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last}")
        time.sleep(interval)  # polling an external server's state, not synchronising threads


def test_retryable_answers_are_asked_again_until_the_deadline() -> None:
    answers = iter([503, 409, 500, 200])
    sent: list[int] = []

    def send() -> httpx.Response:
        sent.append(status := next(answers))
        return httpx.Response(status, text=f"answer {status}")

    got = _request_until_answered(send, timeout=60, what="x", interval=0)
    assert (got.status_code, sent) == (200, [503, 409, 500, 200])
    assert (
        _request_until_answered(
            lambda: httpx.Response(422, text="bad"), timeout=60, what="x", interval=0
        ).status_code
        == 422
    )  # a client error is the answer: no retry
    with pytest.raises(AssertionError, match=r"last: 502: still starting"):
        _request_until_answered(
            lambda: httpx.Response(502, text="still starting"), timeout=0, what="x", interval=0
        )


@pytest.fixture(scope="module")
def airflow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.dags.test_airflow_postgres import ADMIN_URL, _admin_connection, _with_database

    name = f"tandem_backfill_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        db_url = _with_database(ADMIN_URL, name, "postgresql+psycopg2")
        home = tmp_path_factory.mktemp("airflow-live")
        with running_airflow(home, TANDEM_AIRFLOW_DB_URL=db_url) as live:
            yield {"client": live.api, "data": live.data, "home": live.home}
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _backfill(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {
        "dag_id": "tandem_index",
        "from_date": "2026-03-01T00:00:00Z",
        "to_date": "2026-03-02T00:00:00Z",
        "max_active_runs": 1,
        "dag_run_conf": {"warm_candidate": False},
        # re-run dates whose runs a cancelled half-created backfill (below) left failed
        "reprocess_behavior": "failed",
        **extra,
    }
    failed_post = False

    def post() -> httpx.Response:
        # SQLite: a POST answered 503 "database is locked" may have committed the backfill row
        # without its runs; every retry then gets 409 "already a running backfill". After a
        # failed POST of ours, that running backfill is ours: cancel it and post again.
        nonlocal failed_post
        resp = client.post("/backfills", json=body)
        if resp.status_code >= 500:
            failed_post = True
        elif resp.status_code == 409 and failed_post:
            _cancel_running_backfills(client, body["dag_id"])
        return resp

    resp = _request_until_answered(post, timeout=120, what="the backfill to be accepted")
    assert resp.status_code == 200, resp.text
    created: dict[str, Any] = resp.json()

    def completed() -> Any:
        got = _request_until_answered(
            lambda: client.get(f"/backfills/{created['id']}"),
            timeout=120,
            what=f"backfill {created['id']}",
        )
        assert got.status_code == 200, got.text
        return got.json().get("completed_at")

    _poll(
        completed,
        timeout=BACKFILL_TIMEOUT_S,
        what=f"backfill {created['id']} to complete",
        interval=5,
    )
    return created


def _cancel_running_backfills(client: httpx.Client, dag_id: str) -> None:
    listed = client.get("/backfills", params={"dag_id": dag_id, "limit": 100})
    if listed.status_code != 200:
        return  # asked again on the next retry
    for backfill in listed.json()["backfills"]:
        if backfill["completed_at"] is None:
            client.put(f"/backfills/{backfill['id']}/cancel")


def _runs(client: httpx.Client) -> dict[str, dict[str, Any]]:
    runs = client.get("/dags/tandem_index/dagRuns", params={"limit": 100}).json()["dag_runs"]
    return {r["logical_date"][:10]: r for r in runs if r["run_type"] == "backfill"}


def test_backfill_two_dates_then_rerun_changes_nothing(airflow_api: dict[str, Any]) -> None:
    client: httpx.Client = airflow_api["client"]
    data: Path = airflow_api["data"]
    _poll(
        lambda: client.get("/dags/tandem_index").status_code == 200,
        timeout=180,
        what="the dag-processor to register tandem_index",
    )
    assert client.get("/importErrors").json()["total_entries"] == 0

    _backfill(client)
    runs = _runs(client)
    assert sorted(runs) == ["2026-03-01", "2026-03-02"]
    assert {d: r["state"] for d, r in runs.items()} == {
        "2026-03-01": "success",
        "2026-03-02": "success",
    }
    assert sorted(p.name for p in (data / "snapshots").iterdir() if p.name[:1].isdigit()) == [
        "2026-03-01",
        "2026-03-02",
    ]
    versions = sorted(p.name for p in (data / "indexes").iterdir() if p.name[:1].isdigit())
    assert [v[:8] for v in versions] == ["20260301", "20260302"]
    assert (data / "indexes" / "LIVE").read_text().strip() == versions[1]
    before = tree_digest(data, skip=("report.json", ".staging"))

    # reprocess the same two dates: every task re-runs, and nothing on disk changes
    _backfill(client, reprocess_behavior="completed")
    rerun = _runs(client)
    assert {d: r["state"] for d, r in rerun.items()} == {
        "2026-03-01": "success",
        "2026-03-02": "success",
    }
    assert all(rerun[d]["end_date"] > runs[d]["end_date"] for d in runs), "dates were re-run"
    assert tree_digest(data, skip=("report.json", ".staging")) == before
