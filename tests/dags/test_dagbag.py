"""The dags folder parses cleanly into exactly the Tandem DAGs, each documented and owned."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.dags.conftest import DAGS_DIR

EXPECTED = {"tandem_index", "tandem_hot_answers", "tandem_freshness"}


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors_and_exactly_the_expected_dags(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_owner_retries_tags_docs(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.doc_md
    assert dag_id in dag.doc_md
    assert "tandem" in dag.tags
    for task in dag.tasks:
        assert task.owner == "tandem", task.task_id
        assert task.retries >= 1, task.task_id
        assert task.on_failure_callback, task.task_id


def _form_accepts_default(schema: dict[str, Any], default: Any) -> bool:
    """What the Trigger and Backfill forms of Airflow 3.3 accept unchanged: a param that may be
    null, or one whose default is a value (an empty string is "This field is required")."""
    types = schema.get("type")
    nullable = "null" in (types if isinstance(types, list) else [types])
    return nullable or default not in (None, "")


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_params_run_with_their_defaults_from_the_forms(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    dag.params.validate()  # the defaults pass their own schema
    for name in dag.params:
        param = dag.params.get_param(name)
        assert _form_accepts_default(param.schema, param.value), (name, param.schema)
        assert param.description, f"{dag_id}.{name} has no help text"


def test_every_backfill_variable_is_a_param(dagbag: Any) -> None:
    assert set(dagbag.dags["tandem_index"].params) == {"source", "labelled", "warm_candidate"}
    assert set(dagbag.dags["tandem_hot_answers"].params) == {"version", "questions_file", "top_k"}


def test_index_pipeline_order(dagbag: Any) -> None:
    dag = dagbag.dags["tandem_index"]
    order = ["ingest", "embed", "build", "gate", "warm_candidate", "publish", "record_success"]
    for up, down in itertools.pairwise(order):
        assert down in dag.get_task(up).downstream_task_ids, (up, down)
    assert [a.uri for a in dag.get_task("publish").outlets] == ["tandem://index/live"]
    assert dag.get_task("record_success").trigger_rule == "none_failed"  # after a skipped publish
    assert dag.deadline is not None


def test_hot_answers_on_asset_or_daily(dagbag: Any) -> None:
    from airflow.sdk import AssetOrTimeSchedule

    dag = dagbag.dags["tandem_hot_answers"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert "tandem://index/live" in repr(dag.timetable.asset_condition)


def test_freshness_every_fifteen_minutes_by_default(dagbag: Any) -> None:
    from datetime import timedelta

    dag = dagbag.dags["tandem_freshness"]
    assert dag.timetable.delta == timedelta(minutes=15)


def test_parsing_does_no_heavy_imports() -> None:
    """A fresh interpreter parsing the folder loads no Spark, torch, faiss or Redis client."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "heavy = [m for m in ('pyspark', 'torch', 'faiss', 'redis', 'sentence_transformers')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")]
    assert line == "HEAVY=", line


def test_spark_submit_mode_uses_the_operator() -> None:
    """TANDEM_EMBED_MODE=spark_submit swaps the embed task for SparkSubmitOperator."""
    import os
    import subprocess
    import sys

    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "t = bag.dags['tandem_index'].get_task('embed')\n"
        "print('EMBED', type(t).__name__, t._conn_id, t.application, *t.application_args)\n"
    )
    env = {**os.environ, "TANDEM_EMBED_MODE": "spark_submit"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("EMBED ")]
    _, kind, conn, app, *args = line.split()
    assert (kind, conn, args) == (
        "SparkSubmitOperator",
        "spark_default",
        ["--date", "{{", "ds", "}}"],
    )
    assert app.endswith("batch/embed/spark_job.py")
