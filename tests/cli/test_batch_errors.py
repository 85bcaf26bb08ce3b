"""Batch errors under one root, mapped once by the CLI (issue 25 item 5)."""

from __future__ import annotations

import importlib

import pytest
import typer

from batch.errors import BatchError
from tandem_cli.batch_context import errors

pytestmark = pytest.mark.unit

# every error batch defines for its callers, where it lives
DEFINED = {
    "batch.corpus": ["CorpusError"],
    "batch.embed.errors": ["EmbedError"],
    "batch.evaluate": ["EvalError"],
    "batch.freshness.report": ["FreshnessError", "NoIndexPublished", "FreshnessBreach"],
    "batch.hot_answers": ["HotAnswersError", "NoIndexToWarm"],
    "batch.index": ["PublishError"],
    "batch.ingest.errors": ["IngestError"],
    "batch.ingest.squad": ["SquadFormatError"],
    "batch.labelled": ["LabelledSetError"],
    "batch.orchestration": ["OrchestrationError"],
}


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, ns in DEFINED.items() for n in ns])
def test_each_batch_error_is_a_batch_error(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BatchError)
    # and keeps the builtin base its callers caught before
    assert issubclass(cls, (RuntimeError, ValueError))


def test_no_batch_module_defines_an_error_outside_the_root() -> None:
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "batch"
    found = {
        (str(p.relative_to(root.parent).with_suffix("")).replace("/", "."), m.group(1))
        for p in root.rglob("*.py")
        for m in re.finditer(r"^class (\w+(?:Error|Breach|Published|Warm))\(", p.read_text(), re.M)
    }
    found = {(mod.removesuffix(".__init__"), name) for mod, name in found}
    listed = {(m, n) for m, ns in DEFINED.items() for n in ns}
    assert found - {("batch.errors", "BatchError")} == listed


def test_the_cli_maps_any_batch_error_to_a_message_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from batch.embed.errors import EmbedError

    with pytest.raises(typer.Exit) as exited, errors():
        raise EmbedError("staging folder x is held by another run")
    assert exited.value.exit_code == 1
    assert "held by another run" in capsys.readouterr().err


def test_other_errors_still_raise() -> None:
    with pytest.raises(KeyError), errors():
        raise KeyError("a bug, not the user's")
