"""The real Airflow stack for the live tests: ``scripts/airflow.sh start`` on a free loopback port.

Its own AIRFLOW_HOME and data dir under ``tmp``, a 12-paragraph SQuAD slice as the index source,
real Redis (``TANDEM_TEST_REDIS_URL``), scheduled runs turned off (only the runs a test makes).
Yields an authenticated REST client (the simple auth manager's token, as the UI gets it) and
stops exactly the processes it started.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.batch.conftest import squad_slice, write_squad
from tests.conftest import TEST_REDIS_URL
from tests.dags.conftest import REPO


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LiveAirflow:
    base: str  # http://127.0.0.1:<port>
    password: str  # of the admin user
    api: httpx.Client  # /api/v2, authenticated
    data: Path  # TANDEM_DATA_DIR
    home: Path  # AIRFLOW_HOME


@contextmanager
def running_airflow(tmp: Path, **extra_env: str) -> Iterator[LiveAirflow]:
    home = tmp / "airflow"
    port = free_port()
    source = write_squad(tmp / "squad.json", squad_slice(12, per_article=4))
    env = {
        **os.environ,
        "TANDEM_AIRFLOW_HOME": str(home),
        "TANDEM_AIRFLOW_PORT": str(port),
        "TANDEM_DATA_DIR": str(tmp / "var"),
        "TANDEM_REDIS_URL": TEST_REDIS_URL,
        "TANDEM_INDEX_SOURCE": str(source),
        "TANDEM_SPARK_MASTER": "local[2]",
        "TANDEM_SPARK_DRIVER_MEMORY": "1g",
        # only the runs the test makes: no scheduled or asset-triggered runs beside them
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        **extra_env,
    }
    script = ["bash", str(REPO / "scripts" / "airflow.sh")]
    started = subprocess.run(
        [*script, "start"], env=env, cwd=REPO, capture_output=True, text=True, timeout=400
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"UI at http://127.0.0.1:{port}" in started.stdout
        passwords = home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())["admin"]
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30
        )
        assert token.status_code in (200, 201), token.text
        with httpx.Client(
            base_url=f"{base}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=30,
        ) as api:
            yield LiveAirflow(base, password, api, tmp / "var", home)
    finally:
        stopped = subprocess.run(
            [*script, "stop"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        for pid_file in (home / "run").glob("*.pid"):
            raise AssertionError(f"{pid_file} left behind")
