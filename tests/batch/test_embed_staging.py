"""Embed staging folders: a run claims its folder; a folder no live run holds is removed."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from batch.embed.staging import claimed_staging, remove_abandoned

pytestmark = pytest.mark.unit


def _claim_and_wait(root: str, name: str, ready: Any) -> None:
    with claimed_staging(Path(root), name) as path:
        (path / "todo.parquet").write_bytes(b"x")
        ready.set()
        signal.pause()


def test_a_sigkilled_runs_folder_is_removed_a_live_one_kept(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_claim_and_wait, args=(str(tmp_path), "run-a", ready))
    proc.start()
    try:
        assert ready.wait(30)
        assert remove_abandoned(tmp_path) == []  # its owner is alive
        assert (tmp_path / "run-a" / "todo.parquet").is_file()
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
    assert remove_abandoned(tmp_path) == ["run-a"]
    assert list(tmp_path.iterdir()) == []


def test_an_unclaimed_folder_is_removed(tmp_path: Path) -> None:
    (tmp_path / "old-run" / "out").mkdir(parents=True)
    assert remove_abandoned(tmp_path) == ["old-run"]
    assert remove_abandoned(tmp_path / "missing") == []


def test_a_finished_run_leaves_nothing(tmp_path: Path) -> None:
    with claimed_staging(tmp_path, "run-b") as path:
        assert path.is_dir()
    assert list(tmp_path.iterdir()) == []
