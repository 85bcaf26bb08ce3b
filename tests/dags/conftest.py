"""Airflow test set-up: a throw-away AIRFLOW_HOME with a migrated SQLite metadata DB.

The environment is set when this module is imported, before anything imports ``airflow``
(Airflow reads its configuration once, at import).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO / "dags"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="tandem-airflow-test-"))

if "airflow" in sys.modules:  # pragma: no cover - a guard for the test set-up itself
    raise RuntimeError("airflow was imported before tests/dags/conftest.py set AIRFLOW_HOME")

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "tandem-test-jwt-secret",
        # one quick retry: a failing task must not hold dag.test() for the default 5 minutes
        "TANDEM_DAG_RETRIES": "1",
        "TANDEM_DAG_RETRY_DELAY_S": "1",
        # the answer gate's own tests measure it; the DAG tests generate two answers per gate
        "TANDEM_GATE_ANSWERS": "2",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """Migrate the session's metadata DB once (``airflow db migrate``); yields AIRFLOW_HOME."""
    airflow = Path(sys.executable).parent / "airflow"
    proc = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return AIRFLOW_HOME
