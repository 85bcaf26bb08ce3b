"""Index version directories on disk: names, staging, manifests, the LIVE pointer, history."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.artifacts import LocalArtifactStore, read_live_version
from core.index.format import read_manifest
from core.index.trust import version_dir
from core.index.writer import (
    STAGING_DIR,
    chunk_set_digest,
    list_artifacts,
    new_staging_dir,
    remove_tree,
    write_manifest,
    write_text_atomic,
)
from shared_schemas.layout import MANIFEST_FILE
from shared_schemas.manifest import IndexManifest

__all__ = [
    "STAGING_DIR",
    "chunk_set_digest",
    "list_artifacts",
    "new_staging_dir",
    "remove_tree",
    "write_manifest",
    "write_text_atomic",
]
HISTORY_FILE = "HISTORY"  # JSON lines: {"at", "action", "version", "previous"}


def version_dirs(indexes_dir: Path) -> list[Path]:
    """Complete version directories (those with a manifest), oldest name first."""
    if not indexes_dir.is_dir():
        return []
    return sorted(
        p
        for p in indexes_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()
    )


def set_live_pointer(indexes_dir: Path, version: str) -> None:
    LocalArtifactStore(indexes_dir).write_live(version)


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    action: str
    version: str
    previous: str | None


def read_history(indexes_dir: Path) -> list[HistoryEntry]:
    path = indexes_dir / HISTORY_FILE
    if not path.is_file():
        return []
    out: list[HistoryEntry] = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(HistoryEntry(d["at"], d["action"], d["version"], d.get("previous")))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from a crash is skipped, never fatal
    return out


def append_history(indexes_dir: Path, action: str, version: str, previous: str | None) -> None:
    entry = {
        "at": datetime.now(UTC).isoformat(),
        "action": action,
        "version": version,
        "previous": previous,
    }
    with (indexes_dir / HISTORY_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def ever_live(indexes_dir: Path) -> set[str]:
    """Versions that have been live at some point (their manifest is frozen)."""
    names = {h.version for h in read_history(indexes_dir)}
    live = read_live_version(indexes_dir)
    if live:
        names.add(live)
    return names


def load_manifest(indexes_dir: Path, version: str) -> IndexManifest:
    return read_manifest(version_dir(indexes_dir, version))
