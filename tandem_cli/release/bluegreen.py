"""One blue-green switch or rollback of the online tier.

Without a kube context it only edits the Service manifest (``manifest.py``). With one it first
makes the manifest follow the cluster (the source of truth: a CI checkout has the tracks of
its commit, not of the last release), waits for the target Deployment's rollout, switches, and
applies the edited manifest with kubectl.
"""

from __future__ import annotations

from pathlib import Path

from tandem_cli.release.errors import ReleaseError
from tandem_cli.release.kubectl import KUBECTL_GRACE_S, kubectl
from tandem_cli.release.manifest import (
    LIVE_SERVICE,
    PREVIEW_SERVICE,
    SwitchResult,
    Track,
    adopt_cluster_services,
    live_track,
    namespace,
    other_track,
    switch_manifest,
)


def _ns_args(manifest: Path) -> list[str]:
    ns = namespace(manifest)
    return ["--namespace", ns] if ns else []


def sync_from_cluster(manifest: Path, context: str, *, timeout_s: float = 300) -> None:
    """Make the manifest's tracks and recorded previous track those the cluster serves."""
    ns_args = _ns_args(manifest)
    raw = kubectl(
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
    adopt_cluster_services(manifest, raw)


def target_track(manifest: Path, *, rollback: bool, to: Track | None) -> Track:
    """The track to go live: the recorded previous one for a rollback, else ``to`` or the other."""
    if rollback:
        _, target = live_track(manifest)
        if target is None:
            raise ReleaseError(f"{manifest}: no previous track recorded")
        return target
    return to or other_track(live_track(manifest)[0])


def release(
    manifest: Path,
    *,
    rollback: bool,
    to: Track | None,
    context: str | None,
    check_ready: bool,
    timeout_s: int,
) -> SwitchResult:
    """Switch (or roll back) the live track; with ``context``, against the cluster too."""
    if context:
        sync_from_cluster(manifest, context, timeout_s=timeout_s)
    target = target_track(manifest, rollback=rollback, to=to)
    ns_args = _ns_args(manifest)
    if context and check_ready:
        kubectl(
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
        kubectl(context, "apply", "-f", str(manifest), timeout_s=timeout_s)
    return result
