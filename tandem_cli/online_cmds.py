"""Online commands: serve, worker."""

from __future__ import annotations

import typer

from tandem_cli.common import not_yet


def register(app: typer.Typer) -> None:
    app.command("serve", help="Run the online API with uvicorn.")(not_yet("serve"))
    app.command("worker", help="Run the refinement worker.")(not_yet("worker"))
