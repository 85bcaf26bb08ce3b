"""Hot-answer cache commands: ``tandem cache warm``, ``tandem cache purge``."""

from __future__ import annotations

import typer

from tandem_cli.common import not_yet

cache_app = typer.Typer(
    help="Hot-answer cache: warm from the query log, purge.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    cache_app.command("warm")(not_yet("cache warm"))
    app.add_typer(cache_app, name="cache")
