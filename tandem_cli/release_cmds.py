"""Release commands: blue-green switch and rollback of the online tier, the A/B report.

Blue-green: the online tier runs two Deployments (``track: blue`` and ``track: green``); the live
Service ``tandem-online`` selects one colour, the preview Service ``tandem-online-preview`` the
other. ``tandem release switch`` flips both selectors in the Service manifest and records the
colour it left in the annotation ``tandem.dev/previous-track``, so ``tandem release rollback``
flips back. With a kube context configured (``TANDEM_KUBE_CONTEXT`` or ``--context``) it then
waits for the target Deployment's rollout and applies the edited manifest with kubectl.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
import yaml
from rich.console import Console
from rich.table import Table

from tandem_cli.common import user_errors

if TYPE_CHECKING:
    from batch.settings import BatchSettings

release_app = typer.Typer(help="Blue-green release of the online tier.", no_args_is_help=True)
ab_app = typer.Typer(help="A/B experiments and canaries.", no_args_is_help=True)

Track = Literal["blue", "green"]
TRACKS: tuple[Track, Track] = ("blue", "green")
LIVE_SERVICE = "tandem-online"
PREVIEW_SERVICE = "tandem-online-preview"
PREVIOUS_ANNOTATION = "tandem.dev/previous-track"
SWITCHED_ANNOTATION = "tandem.dev/switched-at"
HEADER = (
    "# Blue-green Services of the online tier. Edited by `tandem release switch|rollback`:\n"
    "# tandem-online selects the live colour, tandem-online-preview the idle one.\n"
)


class ReleaseError(Exception):
    """A release step cannot be done (bad manifest, no previous colour, kubectl failed)."""


def _settings() -> BatchSettings:
    """Release settings (``kube_context``, ``release_manifest``, ``rollout_timeout_s``)."""
    from batch.settings import get_settings

    return get_settings()


@dataclass(frozen=True)
class SwitchResult:
    manifest: Path
    previous: Track
    live: Track
    changed: bool


# --- the manifest edit (pure file work) ----------------------------------------------------


def _other(track: Track) -> Track:
    return "green" if track == "blue" else "blue"


def _load(manifest: Path) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d is not None]
    except FileNotFoundError as exc:
        raise ReleaseError(f"no Service manifest at {manifest}") from exc
    except yaml.YAMLError as exc:
        raise ReleaseError(f"{manifest}: not YAML: {exc}") from exc
    return docs


def _service(docs: list[dict[str, Any]], name: str, manifest: Path) -> dict[str, Any]:
    for doc in docs:
        if doc.get("kind") == "Service" and doc.get("metadata", {}).get("name") == name:
            return doc
    raise ReleaseError(f"{manifest}: no Service named {name}")


def _track_of(service: dict[str, Any], manifest: Path) -> Track:
    track = service.get("spec", {}).get("selector", {}).get("track")
    if track not in TRACKS:
        name = service["metadata"]["name"]
        raise ReleaseError(f"{manifest}: Service {name} selects track {track!r}, not blue/green")
    return track  # type: ignore[no-any-return]


def live_track(manifest: Path) -> tuple[Track, Track | None]:
    """The live colour and the recorded previous colour (``None`` before any switch)."""
    live = _service(_load(manifest), LIVE_SERVICE, manifest)
    prev = live.get("metadata", {}).get("annotations", {}).get(PREVIOUS_ANNOTATION)
    return _track_of(live, manifest), prev if prev in TRACKS else None


def switch_manifest(
    manifest: Path, *, to: Track | None = None, now: datetime | None = None
) -> SwitchResult:
    """Point the live Service at ``to`` (default: the other colour) and preview at the rest."""
    docs = _load(manifest)
    live = _service(docs, LIVE_SERVICE, manifest)
    preview = _service(docs, PREVIEW_SERVICE, manifest)
    current = _track_of(live, manifest)
    target = to or _other(current)
    if target not in TRACKS:
        raise ReleaseError(f"track must be blue or green, got {target!r}")
    if target == current:
        return SwitchResult(manifest, current, current, changed=False)
    live["spec"]["selector"]["track"] = target
    preview["spec"]["selector"]["track"] = current
    notes = live.setdefault("metadata", {}).setdefault("annotations", {})
    notes[PREVIOUS_ANNOTATION] = current
    notes[SWITCHED_ANNOTATION] = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    _write(manifest, docs)
    return SwitchResult(manifest, current, target, changed=True)


def _write(manifest: Path, docs: list[dict[str, Any]]) -> None:
    body = yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
    tmp = manifest.with_suffix(manifest.suffix + ".tmp")
    tmp.write_text(HEADER + body)
    tmp.replace(manifest)


def rollback_manifest(manifest: Path, *, now: datetime | None = None) -> SwitchResult:
    """Switch back to the colour recorded by the last switch."""
    _, previous = live_track(manifest)
    if previous is None:
        raise ReleaseError(f"{manifest}: no previous colour recorded; nothing to roll back to")
    return switch_manifest(manifest, to=previous, now=now)


# --- kubectl (only when a context is configured) -------------------------------------------


# what `kubectl rollout status --timeout=N` may take beyond its own N seconds to answer
KUBECTL_GRACE_S = 30


def _kubectl(context: str, *args: str, timeout_s: float) -> str:
    exe = shutil.which("kubectl")
    if exe is None:
        raise ReleaseError("a kube context is configured but kubectl is not on PATH")
    try:
        proc = subprocess.run(
            [exe, "--context", context, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReleaseError(
            f"kubectl {' '.join(args)} gave no answer within {timeout_s:g}s "
            "(cluster unreachable? raise TANDEM_ROLLOUT_TIMEOUT_S to wait longer)"
        ) from exc
    if proc.returncode != 0:
        raise ReleaseError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def sync_from_cluster(manifest: Path, context: str, *, timeout_s: float = 300) -> None:
    """Make the manifest's colours and recorded previous colour those the cluster serves.

    The cluster is the truth when one is configured (a CI checkout has the colours of the last
    commit, not of the last release).
    """
    docs = _load(manifest)
    ns = _service(docs, LIVE_SERVICE, manifest).get("metadata", {}).get("namespace")
    ns_args = ["--namespace", str(ns)] if ns else []
    raw = _kubectl(
        context,
        *ns_args,
        "get",
        "service",
        LIVE_SERVICE,
        PREVIEW_SERVICE,
        "-o",
        "json",
        timeout_s=timeout_s,
    )
    try:
        items = {i["metadata"]["name"]: i for i in json.loads(raw)["items"]}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ReleaseError(f"kubectl get service: unexpected output: {exc}") from exc
    for name in (LIVE_SERVICE, PREVIEW_SERVICE):
        if name not in items:
            raise ReleaseError(f"the cluster has no Service {name}")
        mine = _service(docs, name, manifest)
        mine["spec"]["selector"]["track"] = _track_of(items[name], manifest)
    prev = items[LIVE_SERVICE].get("metadata", {}).get("annotations", {}).get(PREVIOUS_ANNOTATION)
    notes = _service(docs, LIVE_SERVICE, manifest).setdefault("metadata", {})
    notes = notes.setdefault("annotations", {})
    if prev in TRACKS:
        notes[PREVIOUS_ANNOTATION] = prev
    else:
        notes.pop(PREVIOUS_ANNOTATION, None)
    _write(manifest, docs)


def _namespace(manifest: Path) -> str | None:
    live = _service(_load(manifest), LIVE_SERVICE, manifest)
    ns = live.get("metadata", {}).get("namespace")
    return str(ns) if ns else None


def _release(rollback: bool, to: Track | None, context: str | None, check_ready: bool) -> None:
    settings = _settings()
    manifest = settings.release_manifest
    context = context or settings.kube_context
    timeout_s = settings.rollout_timeout_s
    with user_errors(ReleaseError):
        if context:
            sync_from_cluster(manifest, context, timeout_s=timeout_s)
        if rollback:
            _, target = live_track(manifest)
            if target is None:
                raise ReleaseError(f"{manifest}: no previous colour recorded")
        else:
            target = to or _other(live_track(manifest)[0])
        ns = _namespace(manifest)
        ns_args = ["--namespace", ns] if ns else []
        if context and check_ready:
            _kubectl(
                context,
                *ns_args,
                "rollout",
                "status",
                f"deployment/tandem-online-{target}",
                f"--timeout={timeout_s}s",
                timeout_s=timeout_s + KUBECTL_GRACE_S,
            )
        result = switch_manifest(manifest, to=target)
        if context:
            _kubectl(context, "apply", "-f", str(manifest), timeout_s=timeout_s)
    verb = "rolled back" if rollback else "switched"
    if not result.changed:
        Console().print(f"live track is already {result.live}; nothing changed")
        return
    where = f"applied to context {context}" if context else "manifest edited (no kube context)"
    Console().print(f"{verb}: live {result.previous} -> {result.live}; {where}: {manifest}")


def release_switch(
    to: Annotated[
        str | None, typer.Option("--to", help="Target colour: blue or green (default: the other).")
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="kubectl context (default TANDEM_KUBE_CONTEXT).")
    ] = None,
    check_ready: Annotated[
        bool, typer.Option(help="With a context: wait for the target rollout first.")
    ] = True,
) -> None:
    """Point the live Service at the other colour (or --to), recording the one it leaves."""
    if to is not None and to not in TRACKS:
        Console(stderr=True).print(f"[red]error:[/red] --to must be blue or green, got {to!r}")
        raise typer.Exit(1)
    _release(False, to, context, check_ready)  # type: ignore[arg-type]


def release_rollback(
    context: Annotated[
        str | None, typer.Option("--context", help="kubectl context (default TANDEM_KUBE_CONTEXT).")
    ] = None,
    check_ready: Annotated[
        bool, typer.Option(help="With a context: wait for the target rollout first.")
    ] = True,
) -> None:
    """Point the live Service back at the colour the last switch left."""
    _release(True, None, context, check_ready)


def release_status() -> None:
    """Show the live and previous colours recorded in the manifest."""
    manifest = _settings().release_manifest
    with user_errors(ReleaseError):
        live, previous = live_track(manifest)
    Console().print(f"live: {live}  previous: {previous or '-'}  ({manifest})")


# --- A/B report ----------------------------------------------------------------------------


def _fmt(x: float | None, pattern: str = "{:.1f}") -> str:
    return "-" if x is None else pattern.format(x)


def _print_report(report: Any) -> None:
    from online.experiments.report import ABReport

    assert isinstance(report, ABReport)
    pct = int(report.confidence * 100)
    table = Table(title=f"A/B report (baseline {report.baseline}, {pct}% intervals)")
    for col in ["variant", "n", "p50 ms", "p95 ms", "p99 ms", "cache hit", "error", "positive fb"]:
        table.add_column(col, justify="left" if col == "variant" else "right")
    for v in report.variants:
        cells = [v.variant, str(v.queries)]
        for p in v.latency:
            ci = f" [{p.ci.low:.0f}, {p.ci.high:.0f}]" if p.ci else ""
            cells.append(_fmt(p.value) + ci)
        for r in (v.cache_hit, v.error, v.positive_feedback):
            ci = f" [{r.ci.low:.3f}, {r.ci.high:.3f}]" if r.ci else ""
            cells.append(f"{_fmt(r.value, '{:.3f}')}{ci} n={r.total}")
        table.add_row(*cells)
    out = Console()
    out.print(table)
    tests = Table(title=f"vs baseline {report.baseline}")
    for col in ["variant", "metric", "test", "difference", "p-value", "significant (5%)"]:
        tests.add_column(col)
    for v in report.variants:
        for c in v.vs_baseline:
            tests.add_row(
                v.variant,
                c.metric,
                c.test,
                _fmt(c.difference, "{:+.4g}"),
                _fmt(c.p_value, "{:.3g}"),
                "yes" if c.significant() else "no",
            )
    if any(v.vs_baseline for v in report.variants):
        out.print(tests)
    for note in report.notes:
        out.print(f"note: {note}")


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

    from online.experiments.report import ReportError, build_report
    from online.experiments.streams import read_stream
    from online.settings import OnlineSettings
    from shared_schemas.events import FeedbackEvent, QueryLogEvent
    from shared_schemas.layout import FEEDBACK_STREAM, QUERY_LOG_STREAM

    settings = OnlineSettings()
    since = datetime.now(UTC) - timedelta(hours=since_hours) if since_hours else None
    with user_errors(ReportError, redis.RedisError):
        client = redis.Redis.from_url(settings.redis_url)
        try:
            logs = read_stream(client, QUERY_LOG_STREAM, QueryLogEvent, since=since, limit=limit)
            fbs = read_stream(client, FEEDBACK_STREAM, FeedbackEvent, since=since, limit=limit)
        finally:
            client.close()
        report = build_report(
            logs.events, fbs.events, baseline=baseline, confidence=confidence, n_boot=bootstrap
        )
    if as_json:
        payload = report.to_dict() | {
            "skipped": {"querylog": logs.skipped, "feedback": fbs.skipped}
        }
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    _print_report(report)
    if logs.skipped or fbs.skipped:
        Console().print(
            f"skipped unreadable entries: query log {logs.skipped}, feedback {fbs.skipped}"
        )


def register(app: typer.Typer) -> None:
    release_app.command("switch")(release_switch)
    release_app.command("rollback")(release_rollback)
    release_app.command("status")(release_status)
    ab_app.command("report")(ab_report)
    app.add_typer(release_app, name="release")
    app.add_typer(ab_app, name="ab")
