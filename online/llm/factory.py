"""Pick the LLM backend named in settings; heavy libraries load only for the one chosen."""

from __future__ import annotations

from online.errors import LLMUnavailableError
from online.llm.base import LLMBackend
from online.settings import OnlineSettings


def build_llm(settings: OnlineSettings, *, url: str | None = None) -> LLMBackend:
    """The configured backend; ``url`` forces an OpenAI-compatible upstream at that address."""
    if url or settings.llm_backend == "openai":
        base = url or settings.llm_url
        if not base:
            raise LLMUnavailableError("llm_backend=openai needs TANDEM_LLM_URL")
        from online.llm.upstream import OpenAICompatibleLLM

        return OpenAICompatibleLLM(
            base,
            model_id=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout_s=settings.llm_timeout_s,
        )
    from online.llm.local import TransformersLocalLLM

    return TransformersLocalLLM(
        settings.llm_gguf_path,
        model_id=settings.llm_model,
        device=settings.device,
        max_time_s=settings.llm_timeout_s,
    )
