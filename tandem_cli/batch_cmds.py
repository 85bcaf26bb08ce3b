"""Hot-answer cache commands: ``tandem cache warm``, ``tandem cache purge`` (and ``explain``:
``cache_explain_cmd.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from tandem_cli.batch_context import errors as batch_errors
from tandem_cli.common import console, setup, user_errors

cache_app = typer.Typer(
    help="Hot-answer cache: warm from the query log, purge.", no_args_is_help=True
)


@cache_app.command("warm")
def warm_cmd(
    run_date: Annotated[
        str | None,
        typer.Option("--date", help="Query-log day to mine, YYYY-MM-DD (default: today)."),
    ] = None,
    questions: Annotated[
        Path | None, typer.Option("--questions", help="Seed questions, one a line.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Index version to warm (default: live).")
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Hot questions to take.")] = None,
) -> None:
    """Precompute the answers to a day's hot questions (plus seeds) into Redis."""
    import redis

    from batch.hot_answers import warm_cache
    from batch.settings import get_settings

    settings = get_settings()
    setup(settings)
    day = date.fromisoformat(run_date) if run_date else datetime.now(UTC).date()
    with batch_errors(redis.RedisError, ValueError):
        report = warm_cache(
            settings=settings, run_date=day, questions_file=questions, version=version, top_k=top_k
        )
    console.print(report.summary())
    for question, why in report.failed.items():
        console.print(f"[yellow]failed:[/yellow] {question!r}: {why}")


@cache_app.command("purge")
def purge_cmd(
    version: Annotated[
        str | None, typer.Option("--version", help="Only this index version's entries.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete cached answers (every version, or one)."""
    import redis

    from batch.settings import get_settings
    from core.cache.factory import answer_cache_sync_for

    settings = get_settings()
    setup(settings)
    if not yes:
        typer.confirm(f"delete cached answers of {version or 'every version'}?", abort=True)
    with user_errors(redis.RedisError, ValueError):
        cache = answer_cache_sync_for(settings, timeout_s=30)
        # a version's answers of every arm, namespace, model and prompt, not the default's only
        removed = cache.purge_version(version) if version else cache.purge()
    console.print(f"removed {removed} keys")


def register(app: typer.Typer) -> None:
    from tandem_cli.cache_explain_cmd import explain_cmd

    cache_app.command("explain")(explain_cmd)
    app.add_typer(cache_app, name="cache")
