"""Online commands: serve, worker."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from tandem_cli.common import setup, user_errors


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: settings.host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default: settings.port).")] = None,
) -> None:
    """Run the online API with uvicorn."""
    from online.app import create_app
    from online.server import serve as serve_app
    from online.server import uvicorn_config
    from online.settings import get_settings

    settings = get_settings()
    setup(settings)
    app = create_app(settings)
    config = uvicorn_config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    serve_app(app, config, drain_s=settings.shutdown_drain_s)


def worker(
    max_jobs: Annotated[
        int | None, typer.Option(help="Stop after this many jobs (default: run until killed).")
    ] = None,
    judge: Annotated[
        bool,
        typer.Option("--judge", help="Judge borderline misses (tandem:judge) instead of refining."),
    ] = False,
) -> None:
    """Run the refinement worker (consumes tandem:refine), or with --judge the pair judge."""
    from core.errors import CoreError
    from online.errors import OnlineError
    from online.refine.worker import build_worker
    from online.settings import get_settings

    settings = get_settings()
    setup(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if judge:
        from online.refine.judging import build_judge_worker

        with user_errors(OnlineError, CoreError, ValueError):
            judged = build_judge_worker(settings).run(stop=stop, max_pairs=max_jobs)
        typer.echo(
            f"judge stopped: judged={judged.judged} aliased={judged.aliased} "
            f"ruled_out={judged.ruled_out} skipped={judged.skipped}"
        )
        return
    with user_errors(OnlineError, CoreError):
        stats = build_worker(settings).run(stop=stop, max_jobs=max_jobs)
    typer.echo(f"refinement worker stopped: done={stats.done} failed={stats.failed}")


def register(app: typer.Typer) -> None:
    app.command("serve", help="Run the online API with uvicorn.")(serve)
    app.command("worker", help="Run the refinement worker.")(worker)
