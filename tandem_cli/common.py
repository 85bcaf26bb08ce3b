"""Helpers every command module uses: logging set-up and turning errors into exits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from shared_schemas.config import CommonSettings
from shared_schemas.logging_config import configure_logging

console = Console(stderr=True)


def setup(settings: CommonSettings) -> None:
    """Logging as configured; model loads say one log line each instead of progress bars
    (set before transformers is imported, and inherited by Spark's Python workers)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    configure_logging(settings.log_level, json_lines=settings.log_json)


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the expected errors of a command into a red message and exit code 1."""
    try:
        yield
    except kinds as exc:  # type: ignore[misc]
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
