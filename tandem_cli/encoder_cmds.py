"""``tandem encoder export``: make the configured encoder backend's ONNX export ahead of time.

The export is otherwise made on first use (the first embed job or service start, once per
export cache); an image build or a deploy step runs this instead, so no start pays for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tandem_cli.common import console, setup, user_errors

encoder_app = typer.Typer(help="The text encoder (embedding model backends).", no_args_is_help=True)


@encoder_app.command("export")
def export(
    backend: Annotated[
        str | None, typer.Option(help="onnx or onnx-int8 (default: TANDEM_ENCODER_BACKEND).")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Export cache (default: TANDEM_ENCODER_CACHE_DIR).")
    ] = None,
) -> None:
    """Export the embedding model for an ONNX backend into the export cache (reused if there)."""
    from core.encoder import bundled_model_path
    from core.encoders.export import EXPORTED_BACKENDS, ensure_exported
    from core.errors import EmbeddingModelError
    from shared_schemas.config import CommonSettings

    settings = CommonSettings()
    setup(settings)
    chosen = backend or settings.encoder_backend
    if chosen not in EXPORTED_BACKENDS:
        console.print(
            f"[red]error:[/red] backend {chosen!r} has no export "
            f"(choose one of {', '.join(EXPORTED_BACKENDS)})"
        )
        raise typer.Exit(2)
    with user_errors(EmbeddingModelError):
        done = ensure_exported(
            settings.embedding_model_path or bundled_model_path(),
            cache_dir or settings.encoders_dir,
            chosen,
        )
    print(
        json.dumps(
            {
                "backend": chosen,
                "path": str(done.path),
                "reused": done.reused,
                "export_s": done.record.get("export_s"),
            }
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(encoder_app, name="encoder")
