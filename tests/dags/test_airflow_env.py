"""``scripts/airflow.sh env``: the execution-API client settings that survive a loaded machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.dags.conftest import REPO


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__WORKERS__")}
    env.update(TANDEM_AIRFLOW_HOME=str(tmp_path / "airflow"), **extra)
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "airflow.sh"), "env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = [line.removeprefix("export ") for line in out.splitlines()]
    return dict(line.split("=", 1) for line in lines if line.startswith("AIRFLOW__WORKERS__"))


@pytest.mark.unit
def test_execution_api_client_waits_and_retries_longer_than_airflows_defaults(
    tmp_path: Path,
) -> None:
    workers = _env(tmp_path)
    # Airflow's 5 s timeout and 5 retries give up after ~31 s: too short while the api-server
    # starts beside three other components on two cores
    assert float(workers["AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT"]) >= 30
    assert int(workers["AIRFLOW__WORKERS__EXECUTION_API_RETRIES"]) >= 10
    assert float(workers["AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX"]) >= 30
    # an exported value wins
    assert (
        _env(tmp_path, AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="7")[
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT"
        ]
        == "7"
    )
