"""What each variant changes in an answer (assignment is :mod:`online.experiments.service`).

- :class:`ArmTable` resolves each declared variant into an :class:`Arm`: prompt version and
  cache namespace (both part of the cache scope), its LLM (the service's own, or one built lazily
  for the arm from ``llm_backend``/``llm_model``/``llm_url``) and, when it pins an
  ``index_version``, that version loaded through the same verified loader as the live one.

An arm whose LLM cannot be built answers degraded (sources, ``answer: null``); an arm whose pinned
index cannot be loaded answers from the live index; an unknown prompt version falls back to the
service's. Each is logged and counted in ``tandem_variant_fallbacks_total{variant,what}``; the
service itself is never affected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.index.trust import version_dir
from core.llm.base import LLMBackend
from core.llm.unavailable import UnavailableLLM
from core.prompt import PROMPTS
from online.experiments import Variant
from online.index_state import IndexState
from online.llm.runner import GenerationRunner, ObserveFn
from online.metrics import ServiceMetrics
from online.settings import OnlineSettings

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "default"
FallbackKind = Literal["llm", "index", "prompt"]
LLMFactory = Callable[[Variant], LLMBackend]
IndexLoader = Callable[[Path], IndexState]


def default_llm_factory(settings: OnlineSettings) -> LLMFactory:
    """Builds an arm's own backend with :func:`core.llm.factory.build_llm`."""

    def build(variant: Variant) -> LLMBackend:
        from core.llm.factory import build_llm

        update: dict[str, object] = {"llm_backend": variant.llm_backend or settings.llm_backend}
        if variant.llm_model:
            update["llm_model"] = variant.llm_model
        return build_llm(settings.model_copy(update=update), url=variant.llm_url)

    return build


@dataclass
class Arm:
    """What one variant changes in an answer. ``llm``/``runner`` are None until first needed
    when the arm has its own LLM; ``pinned`` is its own index version once loaded."""

    name: str
    prompt_version: str
    namespace: str
    llm_model: str
    variant: Variant | None = None
    own_llm: bool = False
    llm: LLMBackend | None = None
    runner: GenerationRunner | None = None
    pinned: IndexState | None = None


class ArmTable:
    """Every declared variant resolved into an :class:`Arm` (unknown names get the default)."""

    def __init__(
        self,
        settings: OnlineSettings,
        *,
        llm: LLMBackend,
        variants: Sequence[Variant] = (),
        llm_factory: LLMFactory | None = None,
        runner: GenerationRunner | None = None,
        observe: ObserveFn | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.llm = llm
        self.runner = runner
        self.metrics = metrics
        self._observe = observe
        self._factory = llm_factory or default_llm_factory(settings)
        self._lock = asyncio.Lock()
        self.default = Arm(
            "default", settings.prompt_version, DEFAULT_NAMESPACE, llm.model_id, llm=llm
        )
        self._arms = {v.name: self._resolve(v) for v in variants}

    def __getitem__(self, name: str) -> Arm:
        return self._arms.get(name, self.default)

    def __iter__(self) -> Iterator[Arm]:
        return iter(self._arms.values())

    def _resolve(self, v: Variant) -> Arm:
        s = self.settings
        prompt = v.prompt_version or s.prompt_version
        if prompt not in PROMPTS:
            self.fallback(v.name, "prompt", f"prompt version {prompt!r} is unknown")
            prompt = s.prompt_version
        own = bool(
            v.llm_url
            or (v.llm_backend is not None and v.llm_backend != s.llm_backend)
            or (v.llm_model is not None and v.llm_model != self.llm.model_id)
        )
        return Arm(
            name=v.name,
            prompt_version=prompt,
            namespace=v.cache_namespace or DEFAULT_NAMESPACE,
            llm_model=(v.llm_model or self.llm.model_id) if own else self.llm.model_id,
            variant=v,
            own_llm=own,
            llm=None if own else self.llm,
        )

    def fallback(self, variant: str, what: FallbackKind, reason: str) -> None:
        log.warning("variant %s falls back (%s): %s", variant, what, reason)
        if self.metrics is not None:
            self.metrics.variant_fallbacks.labels(variant=variant, what=what).inc()

    def shared_runner(self) -> GenerationRunner:
        if self.runner is None:
            s = self.settings
            self.runner = GenerationRunner(
                self.llm,
                concurrency=s.generation_concurrency,
                queue=s.generation_queue,
                timeout_s=s.llm_timeout_s,
                observe=self._observe,
            )
        return self.runner

    async def runner_for(self, arm: Arm) -> GenerationRunner:
        """The arm's generation runner; its own LLM is built on first use (off the loop)."""
        if not arm.own_llm:
            return self.shared_runner()
        if arm.runner is None:
            async with self._lock:
                if arm.runner is None:
                    arm.llm = await asyncio.to_thread(self._build_llm, arm)
                    s = self.settings
                    arm.runner = GenerationRunner(
                        arm.llm,
                        concurrency=s.generation_concurrency,
                        queue=s.generation_queue,
                        timeout_s=s.llm_timeout_s,
                        observe=self._observe,
                    )
        return arm.runner

    def _build_llm(self, arm: Arm) -> LLMBackend:
        assert arm.variant is not None
        try:
            llm = self._factory(arm.variant)
        except Exception as exc:  # one arm's broken backend must not take the service down
            reason = f"LLM of variant {arm.name} could not be built: {type(exc).__name__}: {exc}"
            self.fallback(arm.name, "llm", reason)
            return UnavailableLLM(arm.llm_model, reason)
        log.info("variant %s uses its own LLM %s", arm.name, llm.model_id)
        return llm

    def load_pinned(self, loader: IndexLoader, indexes_dir: Path, live: IndexState | None) -> None:
        """Load every arm's pinned index version (blocking; failures fall back to live)."""
        loaded: dict[str, IndexState] = {}
        for arm in self:
            version = arm.variant.index_version if arm.variant else None
            if not version or arm.pinned is not None:
                continue
            if live is not None and live.version == version:
                loaded.setdefault(version, live)
            if version not in loaded:
                try:
                    loaded[version] = loader(version_dir(indexes_dir, version))
                except Exception as exc:  # a bad pin degrades its arm, never the service
                    self.fallback(
                        arm.name, "index", f"pinned index {version} not loaded, serving live: {exc}"
                    )
                    continue
            arm.pinned = loaded[version]
            log.info("variant %s pinned to index version %s", arm.name, version)

    def close(self) -> None:
        for arm in self:
            if arm.own_llm and arm.llm is not None:
                arm.llm.close()
