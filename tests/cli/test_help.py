from __future__ import annotations

import re

from typer.testing import CliRunner

from tandem_cli.main import app

EXPECTED = [
    "ingest",
    "embed",
    "index",
    "eval",
    "cache",
    "serve",
    "status",
    "airflow",
    "release",
    "ab",
]


def _command_names(output: str) -> set[str]:
    """Names in the first column of the help's Commands panel."""
    panel = output.split("Commands")[1]
    return set(re.findall(r"^│ (\S+)\s", panel, flags=re.MULTILINE))


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=120)
    assert result.exit_code == 0
    names = _command_names(result.output)
    assert set(EXPECTED) <= names, names


def test_index_help_lists_subcommands() -> None:
    result = CliRunner().invoke(app, ["index", "--help"], terminal_width=120)
    assert result.exit_code == 0
    assert {"build", "publish", "rollback", "list"} <= _command_names(result.output)


def test_cache_help_lists_subcommands() -> None:
    result = CliRunner().invoke(app, ["cache", "--help"], terminal_width=120)
    assert result.exit_code == 0
    assert {"warm", "purge"} <= _command_names(result.output)


def test_release_and_ab_help_list_subcommands() -> None:
    result = CliRunner().invoke(app, ["release", "--help"], terminal_width=120)
    assert result.exit_code == 0
    assert {"switch", "rollback", "status"} <= _command_names(result.output)
    result = CliRunner().invoke(app, ["ab", "--help"], terminal_width=120)
    assert result.exit_code == 0
    assert "report" in _command_names(result.output)
