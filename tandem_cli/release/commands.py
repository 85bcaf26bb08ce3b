"""The typer commands: ``tandem release switch|rollback|status`` and ``tandem ab report``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from tandem_cli.common import user_errors
from tandem_cli.release.bluegreen import release
from tandem_cli.release.errors import ReleaseError
from tandem_cli.release.manifest import TRACKS, Track, live_track
from tandem_cli.release.settings import get_release_settings

release_app = typer.Typer(help="Blue-green release of the online tier.", no_args_is_help=True)
ab_app = typer.Typer(help="A/B experiments and canaries.", no_args_is_help=True)

# the options switch and rollback share
ContextOption = Annotated[
    str | None, typer.Option("--context", help="kubectl context (default TANDEM_KUBE_CONTEXT).")
]
CheckReadyOption = Annotated[
    bool, typer.Option(help="With a context: wait for the target rollout first.")
]


def _release(rollback: bool, to: Track | None, context: str | None, check_ready: bool) -> None:
    settings = get_release_settings()
    manifest = settings.release_manifest
    context = context or settings.kube_context
    with user_errors(ReleaseError):
        result = release(
            manifest,
            rollback=rollback,
            to=to,
            context=context,
            check_ready=check_ready,
            timeout_s=settings.rollout_timeout_s,
        )
    verb = "rolled back" if rollback else "switched"
    if not result.changed:
        Console().print(f"live track is already {result.live}; nothing changed")
        return
    where = f"applied to context {context}" if context else "manifest edited (no kube context)"
    Console().print(f"{verb}: live {result.previous} -> {result.live}; {where}: {manifest}")


def release_switch(
    to: Annotated[
        str | None, typer.Option("--to", help="Target track: blue or green (default: the other).")
    ] = None,
    context: ContextOption = None,
    check_ready: CheckReadyOption = True,
) -> None:
    """Point the live Service at the other track (or --to), recording the one it leaves."""
    if to is not None and to not in TRACKS:
        Console(stderr=True).print(f"[red]error:[/red] --to must be blue or green, got {to!r}")
        raise typer.Exit(1)
    _release(False, to, context, check_ready)  # type: ignore[arg-type]


def release_rollback(
    context: ContextOption = None,
    check_ready: CheckReadyOption = True,
) -> None:
    """Point the live Service back at the track the last switch left."""
    _release(True, None, context, check_ready)


def release_status() -> None:
    """Show the live and previous tracks recorded in the manifest."""
    manifest = get_release_settings().release_manifest
    with user_errors(ReleaseError):
        live, previous = live_track(manifest)
    Console().print(f"live: {live}  previous: {previous or '-'}  ({manifest})")


def ab_report(
    since_hours: Annotated[
        float | None, typer.Option(help="Only events of the last N hours (default: all kept).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Baseline variant (default: 'default' or the biggest).")
    ] = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
    bootstrap: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 1000,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many entries per stream.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per variant: latency p50/p95/p99, cache hit, error and positive-feedback rates, tests."""
    import redis

    from online.experiments.report import ReportError
    from tandem_cli.release.ab_collect import collect_report
    from tandem_cli.release.ab_render import print_report, report_json

    with user_errors(ReportError, redis.RedisError):
        collected = collect_report(
            since_hours=since_hours,
            baseline=baseline,
            confidence=confidence,
            bootstrap=bootstrap,
            limit=limit,
        )
    if as_json:
        typer.echo(report_json(collected))
        return
    print_report(collected)
