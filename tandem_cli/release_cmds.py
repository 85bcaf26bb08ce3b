"""Release commands: blue-green switch and rollback, A/B report."""

from __future__ import annotations

import typer

from tandem_cli.common import not_yet

release_app = typer.Typer(help="Blue-green release of the online tier.", no_args_is_help=True)
ab_app = typer.Typer(help="A/B experiments and canaries.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    release_app.command("switch")(not_yet("release switch"))
    release_app.command("rollback")(not_yet("release rollback"))
    ab_app.command("report")(not_yet("ab report"))
    app.add_typer(release_app, name="release")
    app.add_typer(ab_app, name="ab")
