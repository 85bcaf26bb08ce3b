"""A fresh install under ``dag.test()``: before the first publish, hot answers and freshness are
skipped with "no index published yet" (not failed, no alert); a backfilled past freshness check
keeps the newer figures current."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAGS_DIR
from tests.dags.fake_index import write_snapshot, write_version
from tests.dags.webhook_sink import WebhookSink, webhook_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

DOCS = {"a": "Alpha text one.", "b": "Beta text two."}


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def _skip_reasons(out: str) -> list[str]:
    """The reasons of the "Skipping task." lines ``dag.test()`` printed (its task logs)."""
    return [line.split("reason=", 1)[1] for line in out.splitlines() if "Skipping task." in line]


@pytest.fixture
def dags(
    airflow_db: Path,
    data_dir: Path,
    redis_client: Any,
    webhook: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TANDEM_ALERTS__WEBHOOK_URL", webhook)
    return DagBag(dag_folder=str(DAGS_DIR)).dags


def test_before_the_first_publish_hot_answers_and_freshness_skip(
    dags: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    warm = dags["tandem_hot_answers"].test(logical_date=datetime(2026, 5, 1, tzinfo=UTC))
    assert str(warm.state) == "success", _states(warm)
    assert _states(warm) == {"run_date": "success", "warm": "skipped", "record_success": "skipped"}
    (reason,) = _skip_reasons(capfd.readouterr().out)
    assert "no index published yet" in reason
    assert "param 'version'" in reason
    assert "--version" not in reason  # Airflow's words, not the CLI's

    check = dags["tandem_freshness"].test(logical_date=datetime(2026, 5, 1, 12, tzinfo=UTC))
    assert str(check.state) == "success", _states(check)
    assert _states(check)["check_freshness"] == "skipped"
    (reason,) = _skip_reasons(capfd.readouterr().out)
    assert "no index published yet" in reason
    assert WebhookSink.received == []  # a skip is not an alert


def test_a_backfilled_past_check_leaves_the_latest_figures_current(
    dags: dict[str, Any], redis_client: Any
) -> None:
    from batch.index.publish import publish_version
    from batch.settings import BatchSettings
    from shared_schemas.layout import FRESHNESS_KEY, freshness_key_at

    settings = BatchSettings()
    write_snapshot(settings, date(2026, 5, 1), DOCS)
    publish_version(write_version(settings, date(2026, 5, 1)), settings=settings)
    dag = dags["tandem_freshness"]
    latest = dag.test(logical_date=datetime(2026, 5, 2, 6, tzinfo=UTC))
    assert str(latest.state) == "success", _states(latest)
    current = redis_client.hgetall(FRESHNESS_KEY)
    assert current[b"live_index_age_h"] == b"6.0"

    past = dag.test(logical_date=datetime(2026, 5, 1, 18, tzinfo=UTC))  # a backfilled interval
    assert str(past.state) == "success", _states(past)
    assert redis_client.hgetall(FRESHNESS_KEY) == current  # `tandem status` still shows 05-02
    assert redis_client.hget(freshness_key_at("2026-05-01T18:00:00Z"), "computed_at") is not None
