"""``dag.test()`` of the index and hot-answer DAGs end to end on a small SQuAD slice.

Real everything: ingest, the Spark embed job (local), FAISS + bm25 build, the quality gate with
the bundled encoder, publish, and the hot-answer precompute with the bundled LLM.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.index import read_live_version
from tests.batch.conftest import squad_slice, write_squad
from tests.conftest import TEST_REDIS_URL
from tests.dags.conftest import DAGS_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def tree_digest(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part in skip for part in p.relative_to(root).parts)
    }


@pytest.fixture(scope="module")
def env(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import redis

    tmp = tmp_path_factory.mktemp("pipeline")
    source = write_squad(tmp / "squad.json", squad_slice(12, per_article=4))
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TANDEM_DATA_DIR", str(tmp / "var"))
        mp.setenv("TANDEM_REDIS_URL", TEST_REDIS_URL)
        mp.setenv("TANDEM_INDEX_SOURCE", str(source))
        mp.setenv("TANDEM_SPARK_MASTER", "local[2]")
        mp.setenv("TANDEM_SPARK_DRIVER_MEMORY", "1g")
        # the answer gate with the bundled LLM on two held-out questions (its rule: tests/batch)
        mp.setenv("TANDEM_GATE_ANSWERS", "2")
        mp.setenv("TANDEM_MAX_NEW_TOKENS", "16")
        # dag.test() (Airflow 3.3) cannot finish a run of a DAG with a deadline alert: it looks
        # the alerts up by id in a DAG it never wrote; the real-scheduler backfill test keeps it.
        mp.setenv("TANDEM_INDEX_DEADLINE_H", "0")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS_DIR))
        yield {"data": tmp / "var", "source": source, "redis": client, "bag": bag}
    client.flushdb()
    client.close()


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def live_index_events() -> int:
    """How many ``tandem_live_index`` asset events the metadata DB holds."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "tandem_live_index")
        )
    return int(count or 0)


@pytest.fixture(scope="module")
def indexed(env: dict[str, Any]) -> dict[str, Any]:
    """One run of the index DAG for DAY (ingest → embed → build → gate → publish)."""
    dag = env["bag"].dags["tandem_index"]
    events = live_index_events()
    dr = dag.test(logical_date=DAY, run_conf={"warm_candidate": False})
    assert str(dr.state) == "success", _states(dr)
    assert live_index_events() == events + 1  # the pointer moved: one asset event
    return {"dag": dag, "run": dr, "live": read_live_version(env["data"] / "indexes")}


def test_index_dag_end_to_end_and_rerun(env: dict[str, Any], indexed: dict[str, Any]) -> None:
    from batch.freshness import DAG_SUCCESS_KEY
    from shared_schemas.layout import LIVE_MANIFEST_KEY

    dr = indexed["run"]
    data: Path = env["data"]
    live = read_live_version(data / "indexes")
    assert live is not None
    assert live.startswith("20260301-")
    assert live == indexed["live"]
    assert (data / "snapshots" / "2026-03-01" / "chunks.parquet").exists()
    assert env["redis"].get(LIVE_MANIFEST_KEY) is not None
    assert env["redis"].hget(DAG_SUCCESS_KEY, "tandem_index") is not None
    assert dr.get_task_instance("publish").xcom_pull(task_ids="publish")["published"] is True
    from batch.index.store import load_manifest

    (answers,) = load_manifest(data / "indexes", live).quality.answers  # the answer gate's
    assert (answers.questions, answers.half, answers.gate_passed) == (2, "test", True)

    before = tree_digest(data, skip=("report.json", ".staging"))
    events = live_index_events()
    again = indexed["dag"].test(  # same ds: 2026-03-01
        logical_date=DAY.replace(minute=1), run_conf={"warm_candidate": False}
    )
    assert str(again.state) == "success", _states(again)
    # the same version again: the pointer stays, publish is skipped and emits no asset event
    assert _states(again)["publish"] == "skipped"
    assert _states(again)["record_success"] == "success"
    assert live_index_events() == events
    assert read_live_version(data / "indexes") == live
    assert tree_digest(data, skip=("report.json", ".staging")) == before


def test_backfill_of_an_older_date_skips_publish_and_its_asset_event(
    env: dict[str, Any], indexed: dict[str, Any]
) -> None:
    events = live_index_events()
    older = indexed["dag"].test(  # a backfilled day before the live one, with the form defaults
        logical_date=DAY.replace(day=1, month=2), run_conf={"source": None, "labelled": None}
    )
    assert str(older.state) == "success", _states(older)
    assert _states(older)["publish"] == "skipped"
    assert read_live_version(env["data"] / "indexes") == indexed["live"]
    assert live_index_events() == events  # no tandem_hot_answers run for nothing


def test_hot_answers_dag_warms_the_live_version(
    env: dict[str, Any], indexed: dict[str, Any]
) -> None:
    from shared_schemas import QueryLogEvent
    from shared_schemas.hashing import normalize_question
    from shared_schemas.layout import QUERY_LOG_STREAM

    live = indexed["live"]
    assert live is not None
    assert read_live_version(env["data"] / "indexes") == live
    client = env["redis"]
    day = datetime(2026, 3, 2, 9, tzinfo=UTC)
    questions = ["Which NFL team represented the AFC at Super Bowl 50?"] * 2 + ["Who won?"]
    for i, q in enumerate(questions):
        event = QueryLogEvent(
            query_id=f"q{i}",
            question=q,
            normalized_key=normalize_question(q),
            ts=day,
            cache="miss",
            latency_ms=5.0,
        )
        ms = int(day.timestamp() * 1000)
        client.xadd(QUERY_LOG_STREAM, {"event": event.model_dump_json()}, id=f"{ms}-{i + 1}")

    dag = env["bag"].dags["tandem_hot_answers"]
    dr = dag.test(logical_date=datetime(2026, 3, 2, tzinfo=UTC))
    assert str(dr.state) == "success", _states(dr)
    report = dr.get_task_instance("warm").xcom_pull(task_ids="warm")
    assert report["index_version"] == live
    assert report["mined"] == 2
    assert report["written"] + report["already_cached"] == 2
    keys = list(client.scan_iter(match=f"tandem:ans:*:{live}:*"))
    assert len(keys) >= 2
