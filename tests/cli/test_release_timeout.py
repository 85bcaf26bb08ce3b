"""`tandem release switch` with a kubectl that never answers: a clear error, not a hang."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tandem_cli.main import app
from tandem_cli.release.settings import get_release_settings
from tests.cli.test_release_cmds import BASE_SERVICE, _text


def test_hanging_kubectl_ends_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "service.yaml"
    shutil.copy(BASE_SERVICE, manifest)
    before = manifest.read_text()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "kubectl"
    exe.write_text("#!/bin/sh\nexec sleep 60\n")  # exec: no child left holding the pipes
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TANDEM_RELEASE_MANIFEST", str(manifest))
    monkeypatch.setenv("TANDEM_ROLLOUT_TIMEOUT_S", "1")
    get_release_settings.cache_clear()
    try:
        started = time.monotonic()
        out = CliRunner().invoke(app, ["release", "switch", "--context", "prod"])
        elapsed = time.monotonic() - started
    finally:
        get_release_settings.cache_clear()
    assert out.exit_code == 1, out.output
    assert "kubectl --namespace tandem get service" in _text(out)
    assert "gave no answer within 1s" in _text(out)
    assert elapsed < 30  # bounded by the timeout, not by the fake's 60 s
    assert manifest.read_text() == before  # nothing switched
