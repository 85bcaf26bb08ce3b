"""``tandem ingest`` / ``tandem embed`` commands (registered on a bare app here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from batch.settings import get_settings
from tandem_cli.ingest_cmds import register


@pytest.fixture(autouse=True)
def _fresh_settings(data_dir: Path) -> Iterator[None]:
    """The commands read settings through the cached get_settings(): re-read this test's env."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_ingest_command_prints_summary_and_json(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "docs.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "Alpha text."})
        + "\n"
        + json.dumps({"id": "b", "text": ""})
        + "\n"
    )
    result = CliRunner().invoke(_app(), ["ingest", str(src), "--date", "2024-05-06", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[: result.stdout.index("}\n") + 1])
    assert report["documents_written"] == 1
    assert report["skipped"] == {"empty": 1}
    assert "chunks written" in result.output
    assert (data_dir / "snapshots" / "2024-05-06" / "chunks.parquet").exists()


def test_ingest_command_malformed_source_exits_1(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "a", "text": "ok"}\nnot json\n')
    result = CliRunner().invoke(_app(), ["ingest", str(src), "--date", "2024-05-06"])
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.output


def test_bad_date_is_a_usage_error(tmp_path: Path, data_dir: Path) -> None:
    result = CliRunner().invoke(_app(), ["embed", "--date", "yesterday"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_embed_command_without_snapshot_exits_1(data_dir: Path) -> None:
    result = CliRunner().invoke(_app(), ["embed", "--date", "2024-05-07"])
    assert result.exit_code == 1
    assert "no snapshot for 2024-05-07" in result.output
