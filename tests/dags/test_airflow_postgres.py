"""Airflow's metadata DB on PostgreSQL, configured the way ``scripts/airflow.sh`` configures it.

A fresh, uniquely named database is created on the test server, ``scripts/airflow.sh env`` is run
with ``TANDEM_AIRFLOW_DB_URL`` pointing at it, and ``airflow db migrate`` runs with exactly the
exports it prints; then the schema is checked and the database dropped. PostgreSQL must run (CI
has it as a service): when it does not, the test fails saying so rather than being skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.dags.conftest import REPO

# The server and an existing database to connect to (trust auth locally and in CI).
ADMIN_URL = os.environ.get(
    "TANDEM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCRIPT = REPO / "scripts" / "airflow.sh"
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"


def _with_database(url: str, name: str, scheme: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin_connection() -> Any:
    import psycopg2

    try:
        conn = psycopg2.connect(ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip()
    else:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        return conn
    pytest.fail(
        f"PostgreSQL is not reachable at {ADMIN_URL} ({reason}); start it "
        "(CI runs it as a service) or point TANDEM_TEST_POSTGRES_URL at a server",
        pytrace=False,
    )


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A new empty database on the test server; yields its name and drops it afterwards."""
    name = f"tandem_airflow_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment less Airflow's and Tandem's settings (the conftest sets some)."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "TANDEM_", "PYTHONPATH"))
    }
    return {**keep, **extra}


@pytest.mark.integration
def test_db_migrate_on_postgresql_as_airflow_sh_configures_it(
    fresh_database: str, tmp_path: Path
) -> None:
    import psycopg2

    db_url = _with_database(ADMIN_URL, fresh_database, "postgresql+psycopg2")
    env = _clean_env(TANDEM_AIRFLOW_HOME=str(tmp_path / "airflow"), TANDEM_AIRFLOW_DB_URL=db_url)
    printed = subprocess.run(
        ["bash", str(SCRIPT), "env"], env=env, capture_output=True, text=True, timeout=30
    )
    assert printed.returncode == 0, printed.stderr
    exports = printed.stdout
    assert f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={db_url}" in exports.replace("\\", "")

    migrate = subprocess.run(
        ["bash", "-c", 'set -e; eval "$EXPORTS"; exec "$AIRFLOW_BIN" db migrate'],
        env={**env, "EXPORTS": exports, "AIRFLOW_BIN": str(AIRFLOW_BIN)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    assert "Database migration done" in migrate.stdout + migrate.stderr

    with (
        psycopg2.connect(_with_database(ADMIN_URL, fresh_database, "postgresql")) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "SELECT to_regclass('public.dag'), to_regclass('public.dag_run'), "
            "to_regclass('public.task_instance')"
        )
        assert cur.fetchone() == ("dag", "dag_run", "task_instance")
        cur.execute("SELECT version_num FROM alembic_version")
        assert len(cur.fetchall()) == 1  # stamped at the head revision
    conn.close()
    assert not (tmp_path / "airflow" / "airflow.db").exists()  # SQLite was not used


def test_airflow_sh_refuses_an_unusable_db_url(tmp_path: Path) -> None:
    """``postgres://`` (no SQLAlchemy dialect) is refused with a message, before Airflow runs."""
    env = _clean_env(
        TANDEM_AIRFLOW_HOME=str(tmp_path / "airflow"),
        TANDEM_AIRFLOW_DB_URL="postgres://postgres@127.0.0.1:5432/x",
    )
    proc = subprocess.run(
        ["bash", str(SCRIPT), "env"], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert "TANDEM_AIRFLOW_DB_URL must start with postgresql+psycopg2://" in proc.stderr
    assert "127.0.0.1" not in proc.stderr  # credentials in the URL are not echoed
