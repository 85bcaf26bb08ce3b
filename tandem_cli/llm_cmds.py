"""``tandem llm serve``: llama.cpp's server on a tier's verified model, OpenAI protocol."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from tandem_cli.common import console, setup, user_errors

llm_app = typer.Typer(help="The LLM serving engine (llama.cpp server).", no_args_is_help=True)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@llm_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8081,
    gguf: Annotated[
        Path | None, typer.Option(help="GGUF file (default: TANDEM_LLM_GGUF_PATH or bundled).")
    ] = None,
    parallel: Annotated[
        int | None, typer.Option(min=1, max=256, help="Slots (default: settings).")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=0, help="Threads; 0: half the cores.")] = None,
    ctx_size: Annotated[
        int | None, typer.Option(min=512, help="Context shared by the slots.")
    ] = None,
    gpu_layers: Annotated[
        int | None, typer.Option(min=-1, help="Layers on CUDA; -1: all when a GPU is seen.")
    ] = None,
    tier: Annotated[str, typer.Option(help="Whose model: fast or deep (settings).")] = "fast",
) -> None:
    """Serve the LLM over the OpenAI protocol until interrupted.

    The bearer key is TANDEM_LLM_API_KEY; it is required (and must be a real secret) unless the
    server binds loopback, where a fresh one is made and printed when none is set.
    """
    from core.errors import LLMUnavailableError
    from core.llm.engine import EngineOptions, EngineProcess
    from core.llm.factory import gpu_layers_for, with_verified_model
    from core.llm.local import bundled_gguf_path
    from shared_schemas.config import TIERS, CommonSettings, secret_problem

    if tier not in TIERS:
        raise typer.BadParameter(f"--tier must be one of {', '.join(TIERS)}")
    settings = CommonSettings().for_tier(tier)  # type: ignore[arg-type]
    setup(settings)
    key = settings.llm_api_key.get_secret_value()
    if host not in LOOPBACK or key:
        problem = secret_problem(key)
        if problem:
            console.print(f"[red]error:[/red] TANDEM_LLM_API_KEY {problem}; set a real secret")
            raise typer.Exit(2)
    with user_errors(LLMUnavailableError):
        if gguf is None:
            gguf = with_verified_model(settings).llm_gguf_path or bundled_gguf_path()
        options = EngineOptions(
            gguf_path=gguf,
            host=host,
            port=port,
            threads=settings.llm_engine_threads if threads is None else threads,
            threads_batch=settings.llm_engine_threads_batch,
            parallel=parallel or settings.llm_engine_parallel,
            ctx_size=ctx_size or settings.llm_engine_ctx_size,
            gpu_layers=gpu_layers_for(
                settings.llm_engine_gpu_layers if gpu_layers is None else gpu_layers
            ),
            api_key=key,
            alias=settings.llm_model,
        )
        engine = EngineProcess(options)
        engine.start(show_output=True)
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    console.print(
        f"LLM engine ready in {engine.load_s:.1f} s: {engine.base_url} "
        f"(model {settings.llm_model}, {options.parallel} slots)"
    )
    if not key:
        console.print(f"bearer key for this run: {engine.api_key}")
    try:
        code = engine.wait()
    except KeyboardInterrupt:
        engine.stop()
        code = 0
    raise typer.Exit(max(code, 0))  # < 0: stopped by a signal we asked for


def register(app: typer.Typer) -> None:
    app.add_typer(llm_app, name="llm")
