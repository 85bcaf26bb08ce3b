from __future__ import annotations

from typer.testing import CliRunner

from tandem_cli.main import app

EXPECTED = ["ingest", "embed", "index", "eval", "cache", "serve", "status", "airflow"]


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in EXPECTED:
        assert name in result.output, name


def test_index_help_lists_subcommands() -> None:
    result = CliRunner().invoke(app, ["index", "--help"])
    assert result.exit_code == 0
    for name in ["build", "publish", "rollback", "list"]:
        assert name in result.output
