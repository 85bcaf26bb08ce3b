"""The ``SparkSubmitOperator`` path of ``tandem_index``, executed for real (issue 11 item 1):
with ``TANDEM_EMBED_MODE=spark_submit`` the DAG's embed task is a ``SparkSubmitOperator``; here
``dag.test()`` runs ingest → embed, and embed submits ``batch/embed/spark_job.py`` through the
connection ``spark_default`` (``AIRFLOW_CONN_SPARK_DEFAULT``) to a real standalone cluster
(``scripts/spark_cluster.sh``, 2 workers). The task log carries the application id and its UI;
the vectors land in the embedding store.

Executors get the project's code from the same environment (this venv's Python,
``PYSPARK_PYTHON``); docs/SCALING.md names the routes for other clusters.
The run happens in a subprocess: the DAG reads ``TANDEM_EMBED_MODE`` when it is parsed, from
settings cached once per process.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch.embed.store import EmbeddingStore
from batch.settings import BatchSettings
from tests.batch.conftest import squad_slice, write_squad
from tests.conftest import TEST_REDIS_URL
from tests.dags.conftest import DAGS_DIR

# minutes of JVM and model start-up: `make e2e`, not `make test`
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "spark_cluster.sh"
RUN_S = 600

RUN = f"""
import sys
from datetime import UTC, datetime
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder={str(DAGS_DIR)!r})
assert not bag.import_errors, bag.import_errors
dag = bag.dags["tandem_index"]
print("EMBED_OPERATOR", type(dag.get_task("embed")).__name__, flush=True)
part = dag.partial_subset(task_ids=["embed"], include_upstream=True, include_downstream=False)
dr = part.test(logical_date=datetime(2026, 3, 1, tzinfo=UTC))
states = {{ti.task_id: str(ti.state) for ti in dr.get_task_instances()}}
print("STATES", states, flush=True)
sys.exit(0 if states == {{"ingest": "success", "embed": "success"}} else 1)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    state = tmp_path_factory.mktemp("spark-submit-cluster")
    port = _free_port()
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "SPARK_CLUSTER_DIR": str(state),
        "SPARK_CLUSTER_WORKERS": "2",
        "SPARK_MASTER_PORT": str(port),
        "SPARK_MASTER_UI_PORT": str(_free_port()),
    }
    started = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=180
    )
    try:
        assert started.returncode == 0, started.stderr
        yield port, env
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=60)


def test_embed_task_submits_to_the_cluster_through_spark_default(
    airflow_db: Path, cluster: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    port, cluster_env = cluster
    ui_port = _free_port()
    conf_dir = tmp_path / "spark-conf"  # spark-defaults.conf: the driver's UI on a free port
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(
        f"spark.ui.port {ui_port}\nspark.driver.host 127.0.0.1\nspark.driver.memory 1g\n"
    )
    data = tmp_path / "var"
    source = write_squad(tmp_path / "squad.json", squad_slice(8, per_article=4))
    connection = {
        "conn_type": "spark",
        "host": "spark://127.0.0.1",
        "port": port,
        "extra": {"deploy-mode": "client", "spark-binary": "spark-submit"},
    }
    env = {
        **cluster_env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(connection),
        "TANDEM_EMBED_MODE": "spark_submit",
        "TANDEM_DATA_DIR": str(data),
        "TANDEM_REDIS_URL": TEST_REDIS_URL,
        "TANDEM_INDEX_SOURCE": str(source),
        "TANDEM_INDEX_DEADLINE_H": "0",  # dag.test() cannot run a DAG with a deadline alert
        "PYSPARK_PYTHON": sys.executable,  # executors: this venv (the same environment)
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_CONF_DIR": str(conf_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    assert "EMBED_OPERATOR SparkSubmitOperator" in log
    # the hook ran spark-submit against the connection's master
    assert re.search(rf"spark-submit.*--master.*spark://127\.0\.0\.1:{port}", log), log[-6000:]
    found = re.search(
        rf"master=spark://127\.0\.0\.1:{port} application_id=(app-\d+-\d+) "
        rf"ui=(http://127\.0\.0\.1:{ui_port})",
        log,
    )
    assert found, log[-6000:]  # the application id and its UI link, in the embed task's log
    app_id = found.group(1)
    assert list(Path(cluster_env["SPARK_CLUSTER_DIR"]).glob(f"work/worker-*/{app_id}/*"))

    store = EmbeddingStore.for_settings(BatchSettings(data_dir=data))
    ids = store.existing_ids()
    assert ids
    import pyarrow.parquet as pq

    chunks = pq.read_table(data / "snapshots" / "2026-03-01" / "chunks.parquet")
    assert set(chunks["chunk_id"].to_pylist()) == set(ids)  # every chunk embedded, once
