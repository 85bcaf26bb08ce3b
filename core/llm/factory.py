"""Build the LLM backend a typed config names; heavy libraries load only for the one chosen.

One log line says which backend answers: the llama.cpp engine this process started, an upstream
by URL, or the in-process transformers fallback (no engine installed).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from core.errors import LLMUnavailableError, ModelError
from core.llm.base import LLMBackend
from shared_schemas.config import CommonSettings, EngineLLMConfig, LocalLLMConfig, OpenAILLMConfig

log = logging.getLogger(__name__)


def gpu_layers_for(requested: int) -> int:
    """-1 (auto): every layer on CUDA when the engine build has it and a GPU is visible."""
    if requested >= 0:
        return requested
    import shutil

    return 999 if shutil.which("nvidia-smi") else 0


def build_backend(config: LocalLLMConfig | OpenAILLMConfig | EngineLLMConfig) -> LLMBackend:
    """The backend of ``config``: ``engine`` (llama.cpp server started here), ``openai``
    (upstream by URL) or ``local`` (in-process transformers on the GGUF)."""
    if isinstance(config, OpenAILLMConfig):
        from core.llm.upstream import OpenAICompatibleLLM

        log.info("LLM backend: OpenAI-compatible upstream at %s (%s)", config.url, config.model_id)
        return OpenAICompatibleLLM(
            config.url,
            model_id=config.model_id,
            api_key=config.api_key.get_secret_value(),
            timeout_s=config.timeout_s,
        )
    if isinstance(config, EngineLLMConfig):
        from core.llm.engine import EngineOptions, start_engine
        from core.llm.local import bundled_gguf_path
        from core.llm.managed import ManagedEngineLLM

        options = EngineOptions(
            gguf_path=config.gguf_path or bundled_gguf_path(),
            threads=config.threads,
            threads_batch=config.threads_batch,
            parallel=config.parallel,
            ctx_size=config.ctx_size,
            gpu_layers=gpu_layers_for(config.gpu_layers),
            alias=config.model_id,
            nice=config.nice,
        )
        engine = start_engine(options, timeout_s=config.start_timeout_s)
        log.info("LLM backend: llama.cpp engine (pid %s) for %s", engine.pid, config.model_id)
        return ManagedEngineLLM(engine, model_id=config.model_id, timeout_s=config.timeout_s)
    from core.llm.local import TransformersLocalLLM

    log.info("LLM backend: in-process transformers on the GGUF (%s)", config.model_id)
    return TransformersLocalLLM(
        config.gguf_path,
        model_id=config.model_id,
        device=config.device,
        max_time_s=config.timeout_s,
    )


def with_verified_model(settings: CommonSettings) -> CommonSettings:
    """``settings`` with ``llm_gguf_path`` set to the verified file of its catalog model (the
    model store's copy, fetched from the artifact store when needed): an engine never starts on
    bytes whose sha256 is not the catalog's."""
    from core.models.resolve import resolve_gguf

    try:
        path = resolve_gguf(settings)
    except ModelError as exc:
        raise LLMUnavailableError(f"model {settings.llm_model}: {exc}") from exc
    if path is None or path == settings.llm_gguf_path:
        return settings
    return settings.model_copy(update={"llm_gguf_path": path})


def build_llm(settings: CommonSettings, *, url: str | None = None) -> LLMBackend:
    """The backend ``settings`` configure; ``url`` forces an OpenAI-compatible upstream there.
    ``auto`` takes the llama.cpp engine when one is installed, else the in-process fallback."""
    from core.llm.engine import engine_binary

    installed = settings.llm_backend in ("auto", "engine") and engine_binary() is not None
    if settings.llm_backend == "auto" and not installed and not settings.llm_url and not url:
        log.info("LLM: no llama.cpp engine installed; using the in-process transformers fallback")
    upstream = (
        bool(url)
        or settings.llm_backend == "openai"
        or (settings.llm_backend == "auto" and bool(settings.llm_url))
    )
    if not upstream:
        settings = with_verified_model(settings)
    try:
        config = settings.llm_config(url=url, engine_installed=installed)
    except ValidationError as exc:
        raise LLMUnavailableError(
            f"llm_backend={settings.llm_backend} is incomplete: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from exc
    return build_backend(config)
