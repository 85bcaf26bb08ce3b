"""``tandem``: the one entry point. Sub-commands live in modules named for their area."""

from __future__ import annotations

import typer

from tandem_cli import (
    airflow_cmds,
    batch_cmds,
    demo_cmds,
    encoder_cmds,
    eval_cmds,
    index_cmds,
    ingest_cmds,
    llm_cmds,
    models_cmds,
    online_cmds,
    release,
    status_cmds,
)

app = typer.Typer(
    name="tandem",
    help="Tandem: retrieval + LLM question answering, offline batch and online service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    ingest_cmds,
    index_cmds,
    eval_cmds,
    batch_cmds,
    online_cmds,
    llm_cmds,
    models_cmds,
    encoder_cmds,
    status_cmds,
    airflow_cmds,
    release,
    demo_cmds,
):
    module.register(app)


def main() -> None:  # pragma: no cover - console script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
