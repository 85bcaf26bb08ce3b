"""Index commands: ``tandem index build|publish|rollback|list`` (``tandem eval``: eval_cmds)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from tandem_cli.batch_context import default_labelled as _default_labelled
from tandem_cli.batch_context import errors as _errors
from tandem_cli.batch_context import settings as _settings
from tandem_cli.common import console

index_app = typer.Typer(
    help="Build, publish, roll back and list index versions.", no_args_is_help=True
)


@index_app.command("build")
def build_cmd(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Snapshot date YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Build an index version from a snapshot's chunks and their stored embeddings."""
    from batch.index.build import build_index

    settings = _settings()
    with _errors():
        day = date.fromisoformat(run_date) if run_date else date.today()
        manifest = build_index(day, settings=settings)
    typer.echo(manifest.index_version)
    console.print(
        f"built {manifest.index_version}: {manifest.vector_count} vectors, "
        f"{manifest.faiss_factory}, lexical={manifest.lexical}, on {manifest.built_on}"
    )


@index_app.command("publish")
def publish_cmd(
    version: Annotated[str, typer.Argument(help="Version to make live.")],
    labelled: Annotated[
        Path | None,
        typer.Option(help="Labelled set for the gate (default: the demo corpus)."),
    ] = None,
    skip_gate: Annotated[
        bool, typer.Option("--skip-gate", help="Publish without running the quality gate.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Publish even when a gate refused it, or when the live version is of a later "
            "date (a rollback by hand).",
        ),
    ] = False,
) -> None:
    """Gate (unless already gated or --skip-gate) and atomically publish a version: the same
    retrieval and answer gates and the same date guard as the DAG (batch/index/gates.py)."""
    from batch.index import store
    from batch.index.gates import later_live, run_gates
    from batch.index.publish import publish_version

    settings = _settings()
    with _errors():
        manifest = store.load_manifest(settings.indexes_dir, version)
        live = later_live(version, settings=settings)
        if live is not None and not force:
            console.print(
                f"[red]refused:[/red] the live version {live} is of a later date than {version}; "
                "a backfill never rolls it back (`tandem index rollback`, or --force)"
            )
            raise typer.Exit(1)
        if manifest.quality.gate_passed is None and not skip_gate:
            outcome_gates = run_gates(
                version, settings=settings, labelled=labelled or _default_labelled()
            )
            verdict = "passed" if outcome_gates.passed else "REFUSED"
            console.print(f"gate: {verdict}: {outcome_gates.reason}")
            if outcome_gates.answers is not None and outcome_gates.passed:
                console.print(f"answer gate: passed: {outcome_gates.answers}")
            if not outcome_gates.passed and not force:
                raise typer.Exit(1)
        outcome = publish_version(version, settings=settings, force=force)
    console.print(f"live: {version} (previous: {outcome.previous or '-'})")
    if not outcome.redis_ok:
        console.print("[yellow]warning:[/yellow] Redis was not updated; replicas poll LIVE")
    if outcome.removed:
        console.print(f"removed old versions: {', '.join(outcome.removed)}")


@index_app.command("rollback")
def rollback_cmd() -> None:
    """Make the previously live version live again."""
    from batch.index.publish import rollback_version

    settings = _settings()
    with _errors():
        outcome = rollback_version(settings=settings)
    console.print(f"live: {outcome.manifest.index_version} (rolled back from {outcome.previous})")
    if not outcome.redis_ok:
        console.print("[yellow]warning:[/yellow] Redis was not updated; replicas poll LIVE")


@index_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Index versions on disk, oldest first; * marks live, ^ the previous live."""
    from batch.index.publish import list_versions

    settings = _settings()
    with _errors():
        infos = list_versions(settings=settings)
    for i in infos:
        r5 = f"{i.recall_at_5:.4f}" if i.recall_at_5 is not None else "-"
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "version": i.version,
                        "built_at": i.built_at.isoformat(),
                        "vectors": i.vector_count,
                        "factory": i.faiss_factory,
                        "live": i.live,
                        "previous": i.previous,
                        "recall@5": i.recall_at_5,
                        "gate_passed": i.gate_passed,
                    }
                )
            )
        else:
            mark = "*" if i.live else ("^" if i.previous else " ")
            gate = {True: "pass", False: "FAIL", None: "-"}[i.gate_passed]
            typer.echo(
                f"{mark} {i.version}  {i.built_at:%Y-%m-%d %H:%M}  {i.vector_count:>8}  "
                f"{i.faiss_factory:<16} r@5 {r5:<6} gate {gate}"
            )


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
