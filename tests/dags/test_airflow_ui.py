"""The Airflow UI as a user meets it: Playwright driving Debian's Chromium against the real stack.

``scripts/airflow.sh start`` (what ``make airflow`` runs) on a free loopback port with its own
AIRFLOW_HOME and data dir. The test logs in, opens each DAG, triggers ``tandem_index`` with the
Trigger form's defaults, creates a two-date backfill from the Backfill form with a changed param
(through *Override parameters on existing runs*), waits for the runs through the REST API (with
a deadline) and reads a task log in the UI.

Run it with ``make test-browser`` (marker ``browser``; ``make test`` leaves it out). Screenshots
of a failing step go to ``var/test-artifacts/browser/``; with ``TANDEM_DOC_SCREENSHOTS=docs/img``
the walkthrough's screenshots for docs/AIRFLOW.md are written there.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dags.conftest import REPO
from tests.dags.live_airflow import running_airflow
from tests.dags.test_backfill import _poll, _request_until_answered

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "var" / "test-artifacts" / "browser"
DOC_SHOTS = os.environ.get("TANDEM_DOC_SCREENSHOTS")
RUN_TIMEOUT_S = 600
DAGS = ("tandem_index", "tandem_hot_answers", "tandem_freshness")
UI_TIMEOUT_MS = 60_000  # a loaded 2-core machine: the UI answers slowly while tasks run


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("airflow-ui")
    with running_airflow(tmp, TANDEM_DAG_RETRY_DELAY_S="5") as live:
        for dag_id in DAGS:
            _poll(
                lambda d=dag_id: live.api.get(f"/dags/{d}").status_code == 200,
                timeout=180,
                what=f"the dag-processor to register {dag_id}",
            )
        yield {"base": live.base, "password": live.password, "api": live.api, "data": live.data}


@pytest.fixture(scope="module")
def page(airflow: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(UI_TIMEOUT_MS)
        yield context.new_page()
        context.close()
        browser.close()


@contextmanager
def step(page: Any, name: str) -> Iterator[None]:
    """One step of the walkthrough: a screenshot of the page when it fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content())
        raise


def doc_shot(page: Any, name: str, locator: Any = None) -> None:
    """A screenshot for docs/AIRFLOW.md, only when ``TANDEM_DOC_SCREENSHOTS`` names a folder."""
    if DOC_SHOTS:
        out = Path(DOC_SHOTS) / f"airflow-{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        (locator or page).screenshot(path=str(out))


def _run_state(api: httpx.Client, dag_id: str, run_id: str) -> str | None:
    got = _request_until_answered(
        lambda: api.get(f"/dags/{dag_id}/dagRuns/{run_id}"), timeout=120, what=run_id
    )
    assert got.status_code == 200, got.text
    state = got.json()["state"]
    assert state != "failed", f"{dag_id} run {run_id} failed"
    return state if state == "success" else None


def _pick(page: Any, dialog: Any, label: str, day: str) -> None:
    """Fill the From/To date-time picker of the Backfill form (UTC)."""
    field = dialog.get_by_role("group").filter(has=page.get_by_text(label, exact=True))
    field.get_by_test_id("datetime-input").click()
    popover = page.get_by_role("dialog").filter(has=page.get_by_placeholder("YYYY/MM/DD")).last
    popover.get_by_placeholder("YYYY/MM/DD").fill(day)
    popover.get_by_placeholder("HH:mm").fill("00:00")
    dialog.get_by_text("Date Range").click()  # closes the picker, keeps the form


def test_trigger_and_backfill_from_the_ui(airflow: dict[str, Any], page: Any) -> None:
    base, api = airflow["base"], airflow["api"]

    with step(page, "login"):
        page.goto(f"{base}/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(airflow["password"])
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(f"{base}/")

    with step(page, "dag-list"):
        page.goto(f"{base}/dags")
        for dag_id in DAGS:
            page.get_by_role("link", name=dag_id, exact=True).first.wait_for()
        doc_shot(page, "dags")

    for dag_id in DAGS:
        with step(page, f"open-{dag_id}"):
            page.goto(f"{base}/dags/{dag_id}")
            page.get_by_text(dag_id, exact=True).first.wait_for()
            page.get_by_role("button", name="Trigger").first.wait_for()

    with step(page, "trigger-defaults"):
        page.goto(f"{base}/dags/tandem_index")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Run Parameters").wait_for()
        assert dialog.get_by_text("This field is required").count() == 0
        doc_shot(page, "trigger", dialog)
        with page.expect_response(
            lambda r: r.request.method == "POST" and "/dagRuns" in r.url
        ) as answer:
            dialog.get_by_role("button", name="Trigger", exact=True).click()
        assert answer.value.status == 200, answer.value.text()
        manual = answer.value.json()
        assert manual["conf"] == {"source": None, "labelled": None, "warm_candidate": True}

    with step(page, "trigger-run"):
        _poll(
            lambda: _run_state(api, "tandem_index", manual["dag_run_id"]),
            timeout=RUN_TIMEOUT_S,
            what="the triggered tandem_index run to succeed",
            interval=5,
        )

    with step(page, "backfill-form"):
        page.goto(f"{base}/dags/tandem_index")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog").first
        dialog.get_by_text("Backfill", exact=True).click()
        dialog.get_by_text("Date Range").wait_for()
        _pick(page, dialog, "From", "2026/03/01")
        _pick(page, dialog, "To", "2026/03/02")
        dialog.get_by_text("Override parameters on existing runs").click()
        warm = dialog.get_by_role("checkbox", name="Warm the candidate")
        dialog.locator('[id="switch:element_warm_candidate:control"]').click()  # the switch
        assert not warm.is_checked()
        doc_shot(page, "backfill")
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/backfills")
        ) as answer:
            dialog.get_by_role("button", name="Run Backfill").click()
        assert answer.value.status == 200, answer.value.text()
        sent = json.loads(answer.value.request.post_data or "{}")
        assert sent["dag_run_conf"]["warm_candidate"] is False, sent  # not null: the override
        backfill = answer.value.json()

    with step(page, "backfill-runs"):

        def completed() -> Any:
            got = _request_until_answered(
                lambda: api.get(f"/backfills/{backfill['id']}"), timeout=120, what="backfill"
            )
            return got.json().get("completed_at")

        _poll(completed, timeout=2 * RUN_TIMEOUT_S, what="the backfill to complete", interval=5)
        runs = api.get("/dags/tandem_index/dagRuns", params={"limit": 100}).json()["dag_runs"]
        filled = {r["logical_date"][:10]: r for r in runs if r["run_type"] == "backfill"}
        assert sorted(filled) == ["2026-03-01", "2026-03-02"]
        assert {r["state"] for r in filled.values()} == {"success"}
        assert {r["conf"]["warm_candidate"] for r in filled.values()} == {False}

    with step(page, "task-log"):
        run_id = filled["2026-03-01"]["dag_run_id"]
        page.goto(f"{base}/dags/tandem_index/runs/{run_id}/tasks/publish")
        # publish of an older date is skipped: the log says why, in Airflow's words (the reason
        # is logged in the collapsed "Post Execute" group)
        page.get_by_text("Post Execute").first.click()
        page.get_by_text(re.compile("a backfill never moves it back")).first.wait_for()
        doc_shot(page, "task-log")
