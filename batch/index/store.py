"""Index version directories on disk: names, staging, manifests, the LIVE pointer, history."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from online.retrieval import read_live_version, read_manifest, sha256_file
from shared_schemas.hashing import sha256_hex
from shared_schemas.layout import LIVE_POINTER, MANIFEST_FILE
from shared_schemas.manifest import ArtifactFile, IndexManifest

STAGING_DIR = ".staging"
HISTORY_FILE = "HISTORY"  # JSON lines: {"at", "action", "version", "previous"}


def chunk_set_digest(chunk_ids: list[str]) -> str:
    """sha256 over the sorted chunk ids, one per line: the identity of a chunk set."""
    return sha256_hex("\n".join(sorted(chunk_ids)))


def version_name(run_date: str, digest: str) -> str:
    """``<YYYYMMDD>-<first 8 hex of the digest>`` from an ISO date (or YYYYMMDD)."""
    return f"{run_date.replace('-', '')}-{digest[:8]}"


def list_artifacts(version_dir: Path) -> tuple[ArtifactFile, ...]:
    """Every file under the version dir except the manifest, with size and sha256."""
    out: list[ArtifactFile] = []
    for path in sorted(p for p in version_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(version_dir).as_posix()
        if rel == MANIFEST_FILE:
            continue
        out.append(ArtifactFile(path=rel, sha256=sha256_file(path), bytes=path.stat().st_size))
    return tuple(out)


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, fsync, then os.replace."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_manifest(version_dir: Path, manifest: IndexManifest) -> None:
    write_text_atomic(version_dir / MANIFEST_FILE, manifest.model_dump_json(indent=2) + "\n")


def new_staging_dir(indexes_dir: Path, version: str) -> Path:
    staging = indexes_dir / STAGING_DIR / f"{version}-{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    return staging


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


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
    write_text_atomic(indexes_dir / LIVE_POINTER, version + "\n")


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
    return read_manifest(indexes_dir / version)
