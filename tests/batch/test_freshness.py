"""Freshness figures against real artifacts and a real Redis; thresholds; webhook alerts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from batch.alerts import on_failure_callback, post_alert
from batch.freshness import (
    DAG_SUCCESS_KEY,
    FreshnessBreach,
    FreshnessReport,
    check_thresholds,
    compute_freshness,
    enforce,
    read_freshness,
    read_freshness_at,
    record_dag_success,
)
from batch.settings import BatchSettings, FreshnessConfig
from shared_schemas import QueryLogEvent
from shared_schemas.hashing import normalize_question, question_key_hash
from shared_schemas.layout import (
    FRESHNESS_KEY,
    QUERY_LOG_STREAM,
    cache_key,
    freshness_key_at,
    parse_cache_key,
)
from tests.dags.fake_index import write_snapshot, write_version
from tests.dags.webhook_sink import WebhookSink, webhook_fixture  # noqa: F401 - fixture

D1 = date(2026, 3, 1)
D2 = date(2026, 3, 2)


def _report(**kw: Any) -> FreshnessReport:
    return FreshnessReport(computed_at=datetime(2026, 3, 2, tzinfo=UTC), **kw)


def test_thresholds_name_figure_and_threshold() -> None:
    limits = FreshnessConfig(
        max_index_age_h=36, min_hot_cache_coverage=0.8, max_stale_cache_entries=None
    )
    report = _report(
        live_version="v", live_index_age_h=72.0, hot_cache_coverage=0.5, stale_cache_entries=999
    )
    messages = [b.message for b in check_thresholds(report, limits)]
    assert messages == [
        "live_index_age_h=72.0 exceeds threshold 36.0",
        "hot_cache_coverage=0.5 is below threshold 0.8",
    ]  # the unset stale-entries threshold is not checked


def test_within_thresholds_no_breach() -> None:
    report = _report(live_version="v", live_index_age_h=12.0, dag_success_age_h={"a": 1.0})
    assert check_thresholds(report, FreshnessConfig()) == []
    enforce(report)  # does not raise


def test_enforce_raises_with_every_breach() -> None:
    report = _report(breaches=("a=2 exceeds threshold 1", "b=3 exceeds threshold 1"))
    with pytest.raises(FreshnessBreach, match=r"a=2 exceeds threshold 1; b=3 exceeds"):
        enforce(report)


def test_interval_and_thresholds_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_FRESHNESS__INTERVAL_MIN", "5")
    monkeypatch.setenv("TANDEM_FRESHNESS__MAX_NEW_DOCUMENTS", "7")
    freshness = BatchSettings().freshness
    assert (freshness.interval_min, freshness.max_new_documents) == (5, 7)
    assert freshness.max_index_age_h == 36.0  # the rest keep their defaults


def _log_question(client: Any, question: str, ts: datetime, n: int) -> None:
    for i in range(n):
        event = QueryLogEvent(
            query_id=f"{question}-{i}",
            question=question,
            normalized_key=normalize_question(question),
            ts=ts,
            cache="miss",
            latency_ms=1.0,
        )
        ms = int(ts.timestamp() * 1000)
        client.xadd(QUERY_LOG_STREAM, {"event": event.model_dump_json()}, id=f"{ms}-{i + 1}")
        ts += timedelta(seconds=1)


def _cache(client: Any, settings: BatchSettings, version: str, question: str) -> None:
    key = cache_key(
        namespace="default",
        index_version=version,
        embedding_model=settings.embedding_model,
        llm_model=settings.llm_model,
        prompt_version=settings.prompt_version,
        question_hash=question_key_hash(question),
    )
    client.set(key, "{}")


@pytest.mark.integration
def test_no_live_index_is_a_breach(batch_settings: BatchSettings, redis_client: Any) -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    report = compute_freshness(settings=batch_settings, now=now, client=redis_client)
    assert report.live_version is None
    assert report.breaches == ("live_index_age_h is unknown (no live index); threshold 36.0",)
    stored = read_freshness(settings=batch_settings, client=redis_client)
    assert stored["live_version"] == ""
    assert json.loads(stored["breaches"]) == list(report.breaches)


@pytest.mark.integration
def test_figures_against_live_index(batch_settings: BatchSettings, redis_client: Any) -> None:
    from batch.index.publish import publish_version

    s = batch_settings
    write_snapshot(s, D1, {"a": "Alpha text one.", "b": "Beta text two."})
    live = write_version(s, D1)
    publish_version(live, settings=s)
    # the next day's snapshot: a unchanged, b changed, c new
    write_snapshot(s, D2, {"a": "Alpha text one.", "b": "Beta text, revised.", "c": "Gamma."})
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    _log_question(redis_client, "Too old?", now - timedelta(hours=30), 5)  # outside the window
    _log_question(redis_client, "Who is alpha?", now - timedelta(hours=2), 3)
    _log_question(redis_client, "What is beta?", now - timedelta(hours=1), 1)
    _cache(redis_client, s, live, "who is alpha")  # same normalised key as the logged spelling
    _cache(redis_client, s, "20260201-deadbeef", "What is beta?")  # keyed to an older version
    record_dag_success("tandem_index", now - timedelta(hours=50), settings=s, client=redis_client)

    report = compute_freshness(settings=s, now=now, client=redis_client)

    assert report.live_version == live
    assert report.live_snapshot == "2026-03-01"
    assert report.live_index_age_h == 12.0  # data of 2026-03-01 ends at 03-02 00:00
    assert report.newest_snapshot == "2026-03-02"
    assert (report.new_documents, report.unindexed_chunks) == (2, 2)
    assert (report.changed_chunks, report.removed_chunks) == (1, 1)
    assert (report.hot_questions, report.hot_cached, report.hot_cache_coverage) == (2, 1, 0.5)
    assert (report.live_cache_entries, report.stale_cache_entries) == (1, 1)
    assert report.dag_success_age_h == {"tandem_index": 50.0}
    assert report.breaches == ("dag_success_age_h:tandem_index=50.0 exceeds threshold 48.0",)
    stored = {k.decode(): v.decode() for k, v in redis_client.hgetall(FRESHNESS_KEY).items()}
    assert stored["live_version"] == live
    assert stored["hot_cache_coverage"] == "0.5"
    assert stored["dag_success_age_h:tandem_index"] == "50.0"


@pytest.mark.integration
def test_unreadable_dag_success_time_is_skipped(
    batch_settings: BatchSettings, redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    redis_client.hset(DAG_SUCCESS_KEY, "broken", "yesterday-ish")
    record_dag_success(
        "tandem_index", now - timedelta(hours=2), settings=batch_settings, client=redis_client
    )
    report = compute_freshness(settings=batch_settings, now=now, client=redis_client)
    assert report.dag_success_age_h == {"tandem_index": 2.0}
    assert "broken" in caplog.text
    assert "unreadable" in caplog.text
    # the next success of that DAG replaces the unreadable time
    record_dag_success("broken", now, settings=batch_settings, client=redis_client)
    assert redis_client.hget(DAG_SUCCESS_KEY, "broken").decode() == now.isoformat()


def test_parse_cache_key_round_trips_odd_parts() -> None:
    parts = {
        "namespace": "team:a b",
        "index_version": "20260301-abcdef12",
        "embedding_model": "BAAI/bge-small-en-v1.5",
        "llm_model": "hf:SmolLM2 135M",
        "prompt_version": "p2:beta",
        "question_hash": "0f" * 16,
    }
    parsed = parse_cache_key(cache_key(**parts).encode())
    assert parsed == {
        **parts,
        "schema_version": 1,
        "embedding_model": "BAAI_bge-small-en-v1.5",  # as sanitised in the key
        "llm_model": "hf_SmolLM2_135M",
    }
    assert parse_cache_key("tandem:ans:{0a1b}:default:s1:v:e:l:p") is None  # one part short
    # the layout before the scope's hash tag (issue 26) is not read: a re-warm replaces it
    assert parse_cache_key("tandem:ans:default:s1:v:e:l:p:q") is None
    assert parse_cache_key("tandem:semvec:default:s1:v:e:l:p:q") is None


@pytest.mark.integration
def test_a_backfilled_past_check_never_replaces_newer_figures(
    batch_settings: BatchSettings, redis_client: Any
) -> None:
    s = batch_settings
    write_snapshot(s, D1, {"a": "Alpha text one."})
    from batch.index.publish import publish_version

    publish_version(write_version(s, D1), settings=s)
    today = datetime(2026, 3, 2, 12, tzinfo=UTC)
    compute_freshness(settings=s, now=today, client=redis_client)
    current = read_freshness(settings=s, client=redis_client)
    assert (current["computed_at"], current["live_index_age_h"]) == ("2026-03-02T12:00:00Z", "12.0")

    # a backfill of a past interval: its figures are kept under its own time only
    past = datetime(2026, 2, 20, 6, 15, tzinfo=UTC)
    report = compute_freshness(settings=s, now=past, client=redis_client)
    assert read_freshness(settings=s, client=redis_client) == current
    assert read_freshness_at(past, settings=s, client=redis_client) == report.to_redis()
    assert redis_client.ttl(freshness_key_at("2026-02-20T06:15:00Z")) > 29 * 86400

    # the same time again, or a later one, moves the current figures (forward only)
    later = today + timedelta(minutes=15)
    compute_freshness(
        settings=s, now=later.astimezone(timezone(timedelta(hours=2))), client=redis_client
    )
    assert read_freshness(settings=s, client=redis_client)["computed_at"] == "2026-03-02T12:15:00Z"
    assert read_freshness_at(today, settings=s, client=redis_client) == current


@pytest.mark.integration
def test_dag_success_never_moves_back(batch_settings: BatchSettings, redis_client: Any) -> None:
    later = datetime(2026, 3, 2, tzinfo=UTC)
    record_dag_success("d", later, settings=batch_settings, client=redis_client)
    kept = record_dag_success(
        "d", later - timedelta(days=3), settings=batch_settings, client=redis_client
    )  # a backfill of an old date
    assert kept == later.isoformat()
    assert redis_client.hget(DAG_SUCCESS_KEY, "d").decode() == later.isoformat()


def test_post_alert_delivers_json(webhook: str) -> None:
    assert post_alert({"text": "hello"}, url=webhook)
    assert WebhookSink.received == [{"text": "hello"}]


def test_unreachable_webhook_does_not_raise(tmp_path: Path) -> None:
    assert post_alert({"text": "x"}, url="http://127.0.0.1:9/nothing", timeout_s=1) is False
    assert post_alert({"text": "x"}, url="") is False


def test_failure_callback_posts_reason(webhook: str, monkeypatch: pytest.MonkeyPatch) -> None:
    class Ti:
        dag_id, task_id, run_id = "tandem_freshness", "check_freshness", "manual__1"

    monkeypatch.setenv("TANDEM_ALERTS__WEBHOOK_URL", webhook)
    on_failure_callback({"ti": Ti(), "exception": FreshnessBreach(["x=2 exceeds threshold 1"])})
    (sent,) = WebhookSink.received
    assert sent["dag_id"] == "tandem_freshness"
    assert sent["task_id"] == "check_freshness"
    assert "x=2 exceeds threshold 1" in sent["text"]
