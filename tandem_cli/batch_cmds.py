"""Offline commands: ingest, embed, index …, eval, cache …, status, demo."""

from __future__ import annotations

import typer

from tandem_cli.common import not_yet

index_app = typer.Typer(
    help="Build, publish, roll back and list index versions.", no_args_is_help=True
)
cache_app = typer.Typer(
    help="Hot-answer cache: warm from the query log, purge.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("ingest", help="Ingest a folder, JSONL or SQuAD JSON into a dated snapshot.")(
        not_yet("ingest")
    )
    app.command("embed", help="Embed new chunks of a snapshot with the Spark job.")(
        not_yet("embed")
    )
    app.command("eval", help="Recall@k and MRR of the live index on a labelled set.")(
        not_yet("eval")
    )
    app.command("status", help="Live index, freshness figures and cache coverage.")(
        not_yet("status")
    )
    index_app.command("build")(not_yet("index build"))
    index_app.command("publish")(not_yet("index publish"))
    index_app.command("rollback")(not_yet("index rollback"))
    index_app.command("list")(not_yet("index list"))
    cache_app.command("warm")(not_yet("cache warm"))
    app.add_typer(index_app, name="index")
    app.add_typer(cache_app, name="cache")
