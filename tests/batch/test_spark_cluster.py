"""The embed job on a real standalone Spark cluster (``scripts/spark_cluster.sh``, 2 workers).

Each job runs as ``python -m batch.embed.spark_job`` in its own process (one SparkContext per
process), against ``spark://`` or ``local[2]``; executors run this checkout's venv.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batch.embed.store import EmbeddingStore
from batch.ingest.run import ingest
from batch.settings import BatchSettings
from tests.batch.conftest import squad_slice, write_squad

# minutes of JVM and model start-up per job: `make e2e`, not `make test`
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "spark_cluster.sh"
DAY1, DAY2 = date(2024, 5, 1), date(2024, 5, 2)
DEADLINE_S = 240.0


@dataclass(frozen=True)
class Cluster:
    url: str
    state: Path
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("spark-cluster")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "SPARK_CLUSTER_DIR": str(state),
        "SPARK_CLUSTER_WORKERS": "2",
        "SPARK_MASTER_PORT": str(_free_port()),
        "SPARK_MASTER_UI_PORT": str(_free_port()),
    }
    started = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=180
    )
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("spark://127.0.0.1:")
        status = subprocess.run([str(SCRIPT), "status"], env=env, capture_output=True, text=True)
        assert "workers alive: 2" in status.stdout
        yield Cluster(url, state, env)
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=60)
    stopped = subprocess.run([str(SCRIPT), "status"], env=env, capture_output=True, text=True)
    assert stopped.returncode == 3  # nothing left running


def _data_dir(root: Path, paragraphs: int, day: date) -> Path:
    data = root / "var"
    source = write_squad(root / f"squad-{paragraphs}.json", squad_slice(paragraphs))
    ingest(source, run_date=day, settings=BatchSettings(data_dir=data))
    return data


def _job(data: Path, master: str, day: date, env: dict[str, str]) -> subprocess.Popen[str]:
    job_env = {
        **env,
        "TANDEM_DATA_DIR": str(data),
        "TANDEM_SPARK_MASTER": master,
        "TANDEM_SPARK_DRIVER_MEMORY": "1g",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "batch.embed.spark_job", "--date", day.isoformat()],
        cwd=ROOT,
        env=job_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(proc: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out), err


def _vectors(data: Path) -> dict[str, np.ndarray]:
    store = EmbeddingStore.for_settings(BatchSettings(data_dir=data))
    ids = sorted(store.existing_ids())
    got, matrix = store.load(ids)
    return dict(zip(got, matrix, strict=True))


def _stored_rows(data: Path) -> list[str]:
    import pyarrow.parquet as pq

    store = EmbeddingStore.for_settings(BatchSettings(data_dir=data))
    return [i for p in store.part_files() for i in pq.read_table(p)["chunk_id"].to_pylist()]


def test_cluster_gives_the_local_vectors_and_stays_incremental(
    cluster: Cluster, tmp_path: Path
) -> None:
    local = _data_dir(tmp_path / "local", 12, DAY1)
    remote = _data_dir(tmp_path / "remote", 12, DAY1)
    on_local, _ = _report(_job(local, "local[2]", DAY1, cluster.env))
    on_cluster, _ = _report(_job(remote, cluster.url, DAY1, cluster.env))
    assert on_cluster["spark_master"] == cluster.url
    assert on_cluster["embedded"] == on_local["embedded"] == on_local["chunks_in_snapshot"] > 0
    assert list(cluster.state.glob("work/worker-*/app-*"))  # executors ran on the workers
    a, b = _vectors(local), _vectors(remote)
    assert sorted(a) == sorted(b)
    np.testing.assert_allclose(np.stack([b[k] for k in a]), np.stack(list(a.values())), atol=1e-6)

    # the next day's snapshot adds paragraphs: only their chunks are embedded, on the cluster
    source = write_squad(tmp_path / "remote" / "squad-16.json", squad_slice(16))
    ingest(source, run_date=DAY2, settings=BatchSettings(data_dir=remote))
    again, _ = _report(_job(remote, cluster.url, DAY2, cluster.env))
    assert again["already_embedded"] == on_cluster["embedded"]
    assert again["embedded"] == again["chunks_in_snapshot"] - again["already_embedded"] > 0
    rows = _stored_rows(remote)
    assert len(rows) == len(set(rows)) == again["chunks_in_snapshot"]


def _children(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever of its threads (a JVM's) started them."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


_TASK_EVENT = re.compile(
    r"Executor: (?P<event>Running|Finished|Exception in) task "
    r"(?P<task>\S+ in stage \S+ \(TID \d+\))"
)


def _running_tasks(stderr: Path) -> set[str]:
    """Tasks an executor's log says it started and has not yet finished or failed."""
    running: set[str] = set()
    try:
        text = stderr.read_text(errors="replace")
    except OSError:
        return running
    for m in _TASK_EVENT.finditer(text):
        (running.add if m["event"] == "Running" else running.discard)(m["task"])
    return running


def _executor_pid(cluster: Cluster, app_id: str, executor_id: str) -> int | None:
    """The executor JVM (a child of a worker) of ``app_id`` with id ``executor_id``."""
    for pidfile in cluster.state.glob("worker-*.pid"):
        for child in _children(int(pidfile.read_text())):
            args = _cmdline(child)
            if "org.apache.spark.executor.CoarseGrainedExecutorBackend" not in args:
                continue
            given = dict(itertools.pairwise(args))
            if given.get("--executor-id") == executor_id and given.get("--app-id") == app_id:
                return child
    return None


def _busy_executor(cluster: Cluster, seen_apps: set[str]) -> tuple[int, str] | None:
    """An executor of a new application that is running a task now (its log says so), as
    (pid, task); ``seen_apps`` are the applications of earlier tests, left alone."""
    for stderr in sorted(cluster.state.glob("work/worker-*/app-*/*/stderr")):
        app_id, executor_id = stderr.parent.parent.name, stderr.parent.name
        if app_id in seen_apps:
            continue
        running = _running_tasks(stderr)
        if not running:
            continue
        pid = _executor_pid(cluster, app_id, executor_id)
        if pid is not None:
            return pid, sorted(running)[0]
    return None


def test_killed_executor_is_replaced_and_no_embedding_is_duplicated(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = _data_dir(tmp_path, 40, DAY1)
    earlier = {p.name for p in cluster.state.glob("work/worker-*/app-*")}
    proc = _job(data, cluster.url, DAY1, cluster.env)
    deadline = time.monotonic() + DEADLINE_S
    busy = None
    while busy is None and proc.poll() is None and time.monotonic() < deadline:
        busy = _busy_executor(cluster, earlier)  # a task started and not finished, per its log
        time.sleep(0.05)  # polling the executors' logs, with a deadline
    assert busy is not None, "no executor was seen running a task before the job ended"
    victim, task = busy
    os.kill(victim, signal.SIGKILL)
    report, err = _report(proc)
    # the driver saw the executor go while its log had a task running; the job still completes
    assert "Lost executor" in err, f"killed while running {task}: {err[-4000:]}"
    assert report["embedded"] == report["chunks_in_snapshot"] > 0
    rows = _stored_rows(data)
    assert len(rows) == len(set(rows)) == report["chunks_in_snapshot"]  # no duplicates
    executors = list(cluster.state.glob("work/worker-*/app-*/*"))
    assert len(executors) >= 3  # a worker launched a replacement executor
