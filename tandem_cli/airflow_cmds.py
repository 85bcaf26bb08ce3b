"""Airflow commands: start, stop and inspect the local Airflow (``scripts/airflow.sh``)."""

from __future__ import annotations

import subprocess

import typer

from shared_schemas.config import project_root
from tandem_cli.common import console

airflow_app = typer.Typer(help="Local Airflow 3: start, stop, status.", no_args_is_help=True)


def _script(action: str) -> None:
    script = project_root() / "scripts" / "airflow.sh"
    if not script.exists():
        console.print(f"[red]error:[/red] {script} not found (run from the Tandem checkout)")
        raise typer.Exit(1)
    rc = subprocess.call(["bash", str(script), action], cwd=project_root())
    if rc:
        raise typer.Exit(rc)


@airflow_app.command("start")
def start() -> None:
    """Migrate the metadata DB, start api-server, scheduler, dag-processor and triggerer."""
    _script("start")


@airflow_app.command("stop")
def stop() -> None:
    """Stop exactly the processes `tandem airflow start` started (by PID) and wait for them."""
    _script("stop")


@airflow_app.command("status")
def status() -> None:
    """Which components run, and whether the api-server answers its health check."""
    _script("status")


def register(app: typer.Typer) -> None:
    app.add_typer(airflow_app, name="airflow")
