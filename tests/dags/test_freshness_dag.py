"""tandem_freshness under ``dag.test()``: fails naming the figure and threshold, then passes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAGS_DIR
from tests.dags.fake_index import write_snapshot, write_version
from tests.dags.webhook_sink import WebhookSink, webhook_fixture  # noqa: F401 - fixture

DOCS = {"a": "Alpha text one.", "b": "Beta text two."}


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


@pytest.mark.integration
def test_fails_when_stale_then_passes_after_publish(
    airflow_db: Path,
    data_dir: Path,
    redis_client: Any,
    webhook: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from batch.freshness import DAG_SUCCESS_KEY
    from batch.index.publish import publish_version
    from batch.settings import BatchSettings
    from shared_schemas.layout import FRESHNESS_KEY

    monkeypatch.setenv("TANDEM_ALERTS__WEBHOOK_URL", webhook)
    settings = BatchSettings()
    write_snapshot(settings, date(2026, 3, 1), DOCS)
    publish_version(write_version(settings, date(2026, 3, 1)), settings=settings)
    dag = DagBag(dag_folder=str(DAGS_DIR)).dags["tandem_freshness"]

    # three and a half days later the live data is 60 h old: over the 36 h threshold
    failed = dag.test(logical_date=datetime(2026, 3, 4, 12, tzinfo=UTC))
    assert str(failed.state) == "failed"
    assert _states(failed) == {"check_freshness": "failed", "record_success": "upstream_failed"}
    (alert,) = WebhookSink.received  # failed without retry, one alert
    assert "live_index_age_h=60.0 exceeds threshold 36.0" in alert["text"]
    assert alert["task_id"] == "check_freshness"
    assert redis_client.hget(FRESHNESS_KEY, "live_index_age_h") == b"60.0"
    assert redis_client.hget(DAG_SUCCESS_KEY, "tandem_freshness") is None

    # the index of 2026-03-03 (data up to 03-04 00:00) is published: the next check passes
    write_snapshot(settings, date(2026, 3, 3), DOCS)
    publish_version(write_version(settings, date(2026, 3, 3)), settings=settings)
    passed = dag.test(logical_date=datetime(2026, 3, 4, 12, 15, tzinfo=UTC))
    assert str(passed.state) == "success", _states(passed)
    assert redis_client.hget(FRESHNESS_KEY, "live_index_age_h") == b"12.25"
    assert redis_client.hget(FRESHNESS_KEY, "breaches") == b"[]"
    assert redis_client.hget(DAG_SUCCESS_KEY, "tandem_freshness") == b"2026-03-04T12:15:00+00:00"
    assert len(WebhookSink.received) == 1  # no new alert
