"""``tandem encoder export``: the default backend's export made ahead of time, then reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tandem_cli.main import app


@pytest.mark.slow
def test_export_makes_then_reuses_the_default_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import ENCODER_CACHE

    monkeypatch.setenv("TANDEM_ENCODER_CACHE_DIR", str(ENCODER_CACHE))
    first = CliRunner().invoke(app, ["encoder", "export"])
    assert first.exit_code == 0, first.output
    record = json.loads(first.output.strip().splitlines()[-1])
    assert record["backend"] == "onnx-int8"  # the default
    assert (Path(record["path"]) / "model.onnx").is_file()
    again = json.loads(CliRunner().invoke(app, ["encoder", "export"]).output.splitlines()[-1])
    assert again == {**record, "reused": True}


def test_torch_has_no_export_and_a_broken_model_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = CliRunner().invoke(app, ["encoder", "export", "--backend", "torch"])
    assert torch.exit_code == 2
    assert "has no export" in torch.output
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    monkeypatch.setenv("TANDEM_EMBEDDING_MODEL_PATH", str(broken))
    out = CliRunner().invoke(app, ["encoder", "export", "--cache-dir", str(tmp_path / "c")])
    assert out.exit_code == 1
    assert "cannot be exported" in out.output
    assert not any((tmp_path / "c").glob("onnx-int8-*"))  # nothing half-written is left
