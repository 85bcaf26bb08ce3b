"""Build the :class:`~core.answering.Answerer` from settings: the one composition both the
service, the refine worker and ``tandem cache warm`` start from."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

from core.answering import AnswerConfig, Answerer
from core.encoder import TextEncoder, encoder_for
from core.llm.base import LLMBackend
from core.llm.factory import build_llm
from shared_schemas.config import CommonSettings, Tier


def answer_config(settings: CommonSettings, tier: Tier = "fast") -> AnswerConfig:
    """The answer config of ``tier``. Every tier keys its entries for the fast tier's model
    (what the service looks up), so a deep answer is found where a fast one would be; the
    entry records the tier and model that produced it."""
    deep_model = settings.tier_model(tier)
    return AnswerConfig(
        embedding_model=settings.embedding_model,
        prompt_version=settings.prompt_version,
        top_k=settings.top_k,
        max_new_tokens=settings.max_new_tokens,
        scope_llm_model=settings.llm_model if deep_model != settings.llm_model else None,
        tier=tier,
        generate_prompt_version=settings.deep_prompt_version if tier == "deep" else None,
    )


def build_answerer(
    settings: CommonSettings,
    *,
    encoder: TextEncoder | None = None,
    llm: LLMBackend | None = None,
    llm_url: str | None = None,
    tier: Tier = "fast",
) -> Answerer:
    """The bundled (or given) encoder, the configured (or given) LLM, the settings' config.

    ``tier``: whose LLM (``fast`` answers live, ``deep`` warms, refines and gates);
    ``llm_url`` forces an OpenAI-compatible upstream at that address.
    Blocking: loads the models that are not given, both at once (the LLM engine starts in its
    own process while the encoder loads here).
    """
    llm_settings = settings.for_tier(tier)
    if llm is None and encoder is None:
        with ThreadPoolExecutor(1, thread_name_prefix="llm-build") as pool:
            pending = pool.submit(build_llm, llm_settings, url=llm_url)
            try:
                encoder = encoder_for(settings)
            except BaseException:
                with contextlib.suppress(Exception):
                    pending.result().close()
                raise
            llm = pending.result()
    if encoder is None:
        encoder = encoder_for(settings)
    if llm is None:
        llm = build_llm(llm_settings, url=llm_url)
    return Answerer(encoder=encoder, llm=llm, config=answer_config(settings, tier))
