"""Staging folders of embed runs under ``embeddings/.staging/``, claimed by a lock.

A run takes an exclusive ``flock`` on ``<name>.lock`` before it creates ``<name>/`` and holds it
until the folder is gone; the kernel drops the lock when the process dies, even by SIGKILL. So a
folder whose lock can be taken belongs to no live run: :func:`remove_abandoned` deletes those at
the start of the next run, and keeps the folders of runs still going.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from batch.embed.errors import EmbedError

log = logging.getLogger(__name__)

STAGING = ".staging"  # under embeddings/
LOCK_SUFFIX = ".lock"


def _try_lock(lock_path: Path) -> int | None:
    """An fd holding the exclusive lock on ``lock_path``, or None when a live run holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def remove_abandoned(root: Path) -> list[str]:
    """Delete the staging folders under ``root`` that no live run holds; their names."""
    if not root.is_dir():
        return []
    removed = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        lock_path = root / f"{folder.name}{LOCK_SUFFIX}"
        fd = _try_lock(lock_path)
        if fd is None:
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
        finally:
            os.close(fd)
        removed.append(folder.name)
        log.info("removed the staging folder of an embed run that died: %s", folder)
    return removed


@contextlib.contextmanager
def claimed_staging(root: Path, name: str) -> Iterator[Path]:
    """``root/name``, created under this process's lock and removed (with the lock) at exit."""
    root.mkdir(parents=True, exist_ok=True)
    lock_path = root / f"{name}{LOCK_SUFFIX}"
    fd = _try_lock(lock_path)
    if fd is None:
        raise EmbedError(f"staging folder {name} is held by another run")
    folder = root / name
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lock_path.unlink(missing_ok=True)
        os.close(fd)
