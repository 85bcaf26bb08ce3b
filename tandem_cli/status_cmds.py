"""``tandem status``: the live index, the replicas serving (heartbeats: version, age, answers
by cache outcome and producing tier), the freshness figures and the hot-answer cache coverage."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tandem_cli.batch_context import errors as batch_errors
from tandem_cli.common import setup

out = Console()

LIVE_FIELDS = ("live_version", "live_snapshot", "live_index_age_h", "newest_snapshot")
SOURCE_FIELDS = ("new_documents", "unindexed_chunks", "changed_chunks", "removed_chunks")
CACHE_FIELDS = (
    "hot_questions",
    "hot_cached",
    "hot_cache_coverage",
    "live_cache_entries",
    "stale_cache_entries",
)


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, value if value != "" else "-")
    return table


def _replicas(redis_url: str) -> list[dict[str, object]]:
    """The replicas whose heartbeat is alive: id, version served, age of the heartbeat."""
    from core.redis_clients import sync_redis
    from online.replica import read_replicas

    client = sync_redis(redis_url)
    try:
        records = read_replicas(client)
    finally:
        client.close()
    now = time.time()
    return [
        {
            "replica": r.replica,
            "version": r.version,
            "pinned": r.pinned,
            "age_s": round(r.age_s(now), 1),
            "up_s": round(now - r.started_at, 1),
            "weights": r.weights,
            "answers": r.answers,
            "last_error": r.last_error,
        }
        for r in records
    ]


def _replica_table(replicas: list[dict[str, object]], live: str | None) -> Table:
    table = Table(title="Replicas (heartbeats)", title_justify="left")
    for column in ("replica", "version", "heartbeat age s", "up s", "weights", "answers"):
        table.add_column(column)
    for r in replicas:
        version = str(r["version"] or "-")
        if r["version"] != live:
            version = f"[yellow]{version}[/yellow]"  # not (yet) the live one
        if r["pinned"]:
            version += " (pinned)"
        weights = r["weights"] if isinstance(r["weights"], dict) else {}
        table.add_row(
            str(r["replica"]),
            version,
            str(r["age_s"]),
            str(r["up_s"]),
            ", ".join(f"{k}={v:g}" for k, v in weights.items()),
            by_producer(r["answers"]),
        )
    return table


def by_producer(answers: object) -> str:
    """``exact/deep=12 exact/fast=3 miss/fast=5``: what a replica served, by cache outcome and
    the tier that produced the answer."""
    if not isinstance(answers, dict):
        return "-"
    return " ".join(f"{k}={v}" for k, v in sorted(answers.items())) or "-"


def status(
    compute: Annotated[
        bool, typer.Option("--compute", help="Compute the figures now (and store them).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Live index, freshness figures (Redis hash tandem:freshness) and cache coverage."""
    from batch.freshness import FreshnessError, compute_freshness, read_freshness
    from batch.settings import get_settings

    settings = get_settings()
    setup(settings)
    with batch_errors(OSError):
        if compute:
            compute_freshness(settings=settings, now=datetime.now(UTC))
        try:
            figures = read_freshness(settings=settings)
            replicas = _replicas(settings.redis_url)
        except Exception as exc:  # redis errors: say so instead of a traceback
            raise FreshnessError(f"cannot read Redis at {settings.redis_url}: {exc}") from exc
    from core.index import read_live_version

    live = read_live_version(settings.indexes_dir)
    if as_json:
        out.print_json(
            json.dumps({"live_pointer": live, "replicas": replicas, "freshness": figures})
        )
        return
    out.print(
        f"live index (pointer {settings.indexes_dir / 'LIVE'}): [bold]{live or 'none'}[/bold]"
    )
    if replicas:
        out.print(_replica_table(replicas, live))
    else:
        out.print("no replica heartbeat in Redis (no `tandem serve` running against it)")
    if not figures:
        out.print(
            "no freshness figures yet: run the tandem_freshness DAG or `tandem status --compute`"
        )
        return
    out.print(f"figures computed at {figures.get('computed_at', '?')}")
    out.print(_table("Live index", [(k, figures.get(k, "")) for k in LIVE_FIELDS]))
    out.print(_table("Source vs index", [(k, figures.get(k, "")) for k in SOURCE_FIELDS]))
    out.print(_table("Hot-answer cache", [(k, figures.get(k, "")) for k in CACHE_FIELDS]))
    dags = sorted((k.split(":", 1)[1], v) for k, v in figures.items() if k.startswith("dag_"))
    if dags:
        out.print(_table("Hours since last DAG success", dags))
    breaches = json.loads(figures.get("breaches") or "[]")
    for b in breaches:
        out.print(f"[red]breach:[/red] {b}")
    if not breaches:
        out.print("[green]no freshness threshold breached[/green]")


def register(app: typer.Typer) -> None:
    app.command("status", help="Live index, freshness figures and cache coverage.")(status)
