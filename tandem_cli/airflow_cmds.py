"""Airflow commands: start, stop and inspect the local Airflow."""

from __future__ import annotations

import typer

from tandem_cli.common import not_yet

airflow_app = typer.Typer(help="Local Airflow 3: start, stop, status.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    airflow_app.command("start")(not_yet("airflow start"))
    airflow_app.command("stop")(not_yet("airflow stop"))
    app.add_typer(airflow_app, name="airflow")
