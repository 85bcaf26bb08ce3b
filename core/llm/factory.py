"""Build the LLM backend a typed config names; heavy libraries load only for the one chosen."""

from __future__ import annotations

from pydantic import ValidationError

from core.errors import LLMUnavailableError
from core.llm.base import LLMBackend
from shared_schemas.config import CommonSettings, LocalLLMConfig, OpenAILLMConfig


def build_backend(config: LocalLLMConfig | OpenAILLMConfig) -> LLMBackend:
    """The backend of ``config``: ``local`` (in-process GGUF) or ``openai`` (upstream by URL)."""
    if isinstance(config, OpenAILLMConfig):
        from core.llm.upstream import OpenAICompatibleLLM

        return OpenAICompatibleLLM(
            config.url,
            model_id=config.model_id,
            api_key=config.api_key.get_secret_value(),
            timeout_s=config.timeout_s,
        )
    from core.llm.local import TransformersLocalLLM

    return TransformersLocalLLM(
        config.gguf_path,
        model_id=config.model_id,
        device=config.device,
        max_time_s=config.timeout_s,
    )


def build_llm(settings: CommonSettings, *, url: str | None = None) -> LLMBackend:
    """The backend ``settings`` configure; ``url`` forces an OpenAI-compatible upstream there."""
    try:
        config = settings.llm_config(url=url)
    except ValidationError as exc:
        raise LLMUnavailableError(
            f"llm_backend={settings.llm_backend} is incomplete: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from exc
    return build_backend(config)
