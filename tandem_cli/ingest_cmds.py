"""Offline commands of the first two steps: ``tandem ingest SOURCE`` and ``tandem embed``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tandem_cli.batch_context import errors as batch_errors
from tandem_cli.common import console, setup

if TYPE_CHECKING:
    from batch.embed.report import EmbedReport
    from batch.ingest.report import IngestReport
    from batch.settings import BatchSettings

DateOption = Annotated[
    str | None, typer.Option("--date", help="Snapshot date YYYY-MM-DD (default: today).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the run report as JSON.")]


def _settings() -> BatchSettings:
    from batch.settings import get_settings

    settings = get_settings()
    setup(settings)
    return settings


def _day(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date YYYY-MM-DD", param_hint="--date"
        ) from exc


def ingest_cmd(
    source: Annotated[
        Path, typer.Argument(help="A folder of .txt/.md/.html, a .jsonl file or SQuAD .json(.gz).")
    ],
    run_date: DateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest a folder, JSONL or SQuAD JSON into the snapshot of a date."""
    from batch.ingest.run import ingest

    day = _day(run_date)
    settings = _settings()
    with (
        batch_errors(),
        Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            TextColumn("{task.completed} records"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(f"ingesting {source.name}", total=None)
        report = ingest(
            source,
            run_date=day,
            settings=settings,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    console.print(_ingest_table(report))


def embed_cmd(run_date: DateOption = None, as_json: JsonOption = False) -> None:
    """Embed the chunks of a snapshot that have no stored vector yet (Spark job)."""
    from batch.embed.run import embed_snapshot

    day = _day(run_date)
    settings = _settings()
    with (
        batch_errors(),
        Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(bar_width=None),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        progress.add_task(f"embedding {day} on Spark {settings.spark_master}", total=None)
        report = embed_snapshot(day, settings=settings)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    console.print(_embed_table(report))


def _ingest_table(report: IngestReport) -> Table:
    table = Table(title=f"ingest {report.source} ({report.source_kind}) -> {report.run_date}")
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    table.add_row("documents read", str(report.documents_read))
    table.add_row("documents written", str(report.documents_written))
    table.add_row("chunks written", str(report.chunks_written))
    table.add_row("chunk tokens / overlap", f"{report.chunk_tokens} / {report.chunk_overlap}")
    for reason, count in sorted(report.skipped.items()):
        examples = ", ".join(report.skipped_examples.get(reason, []))
        table.add_row(f"[yellow]skipped: {reason}[/yellow]", f"{count} (e.g. {examples})")
    table.add_row("snapshot", str(report.snapshot_path))
    return table


def _embed_table(report: EmbedReport) -> Table:
    table = Table(title=f"embed {report.run_date} with {report.model}")
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    table.add_row("chunks in snapshot", str(report.chunks_in_snapshot))
    table.add_row("already embedded", str(report.already_embedded))
    table.add_row("embedded now", str(report.embedded))
    table.add_row("device / master", f"{report.device} / {report.spark_master}")
    loads = ", ".join(f"{w}: {n}" for w, n in report.model_loads.items()) or "-"
    table.add_row("model loads per worker", loads)
    table.add_row("part files", ", ".join(report.part_files) or "-")
    table.add_row("time", f"{report.elapsed_s:.1f} s (encode {report.encode_s:.1f} s)")
    return table


def register(app: typer.Typer) -> None:
    app.command("ingest", help="Ingest a folder, JSONL or SQuAD JSON into a dated snapshot.")(
        ingest_cmd
    )
    app.command("embed", help="Embed new chunks of a snapshot with the Spark job.")(embed_cmd)
