"""The blue-green Service manifest: read the tracks, flip them, write the file back.

The online tier runs two Deployments (``track: blue`` and ``track: green``); the live Service
``tandem-online`` selects one track, the preview Service ``tandem-online-preview`` the other.
A switch flips both selectors and records the track it left in the annotation
``tandem.dev/previous-track``, so a rollback flips back. Pure file work: no kubectl here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from tandem_cli.release.errors import ReleaseError

Track = Literal["blue", "green"]
TRACKS: tuple[Track, Track] = ("blue", "green")
LIVE_SERVICE = "tandem-online"
PREVIEW_SERVICE = "tandem-online-preview"
PREVIOUS_ANNOTATION = "tandem.dev/previous-track"
SWITCHED_ANNOTATION = "tandem.dev/switched-at"
HEADER = (
    "# Blue-green Services of the online tier. Edited by `tandem release switch|rollback`:\n"
    "# tandem-online selects the live track, tandem-online-preview the idle one.\n"
)


@dataclass(frozen=True)
class SwitchResult:
    manifest: Path
    previous: Track
    live: Track
    changed: bool


def other_track(track: Track) -> Track:
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


def _write(manifest: Path, docs: list[dict[str, Any]]) -> None:
    body = yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
    tmp = manifest.with_suffix(manifest.suffix + ".tmp")
    tmp.write_text(HEADER + body)
    tmp.replace(manifest)


def live_track(manifest: Path) -> tuple[Track, Track | None]:
    """The live track and the recorded previous track (``None`` before any switch)."""
    live = _service(_load(manifest), LIVE_SERVICE, manifest)
    prev = live.get("metadata", {}).get("annotations", {}).get(PREVIOUS_ANNOTATION)
    return _track_of(live, manifest), prev if prev in TRACKS else None


def namespace(manifest: Path) -> str | None:
    """The namespace of the live Service, if the manifest names one."""
    live = _service(_load(manifest), LIVE_SERVICE, manifest)
    ns = live.get("metadata", {}).get("namespace")
    return str(ns) if ns else None


def switch_manifest(
    manifest: Path, *, to: Track | None = None, now: datetime | None = None
) -> SwitchResult:
    """Point the live Service at ``to`` (default: the other track) and preview at the rest."""
    docs = _load(manifest)
    live = _service(docs, LIVE_SERVICE, manifest)
    preview = _service(docs, PREVIEW_SERVICE, manifest)
    current = _track_of(live, manifest)
    target = to or other_track(current)
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


def rollback_manifest(manifest: Path, *, now: datetime | None = None) -> SwitchResult:
    """Switch back to the track recorded by the last switch."""
    _, previous = live_track(manifest)
    if previous is None:
        raise ReleaseError(f"{manifest}: no previous track recorded; nothing to roll back to")
    return switch_manifest(manifest, to=previous, now=now)


def adopt_cluster_services(manifest: Path, services_json: str) -> None:
    """Rewrite the manifest's tracks and previous track to those of ``kubectl get -o json``."""
    docs = _load(manifest)
    try:
        items = {i["metadata"]["name"]: i for i in json.loads(services_json)["items"]}
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
