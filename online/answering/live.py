"""The live answer: semantic lookup, then retrieval → prompt → generate (streamed or not) →
write-through.

It runs the core's :class:`~core.answering.Answerer` steps (the same ones batch warm and the
refine worker chain in ``answer_once``), generating through the arm's bounded runner, so a live
answer is written through as exactly the entry a precompute would have stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import numpy as np

from core.answering import Answerer
from core.cache.port import AnswerCache
from core.errors import LLMPromptTooLongError
from core.index import Hit
from core.llm.base import GenerationStats
from online.answering.context import (
    Answering,
    AnswerObserver,
    Framing,
    GenerationAdmission,
    StreamEvent,
    ms,
)
from online.answering.lookup import Lookup, cache_down
from online.answers import GenerationRequest, Source
from online.arms import ArmTable
from online.errors import CacheUnavailableError, InvalidInputError, LLMError, OverloadedError
from online.settings import OnlineSettings

log = logging.getLogger(__name__)


class LiveAnswers:
    """Answers what the exact cache did not: :meth:`run` yields the events of one answer."""

    def __init__(
        self,
        *,
        settings: OnlineSettings,
        answerer: Answerer,
        arms: ArmTable,
        cache: AnswerCache | None,
        framing: Framing,
        lookup: Lookup,
        observer: AnswerObserver | None,
        admission: GenerationAdmission | None,
    ) -> None:
        self.settings = settings
        self.answerer = answerer
        self.arms = arms
        self.cache = cache
        self.framing = framing
        self.lookup = lookup
        self.observer = observer
        self.admission = admission

    def _embed(self, ctx: Answering) -> tuple[str, np.ndarray]:
        """The question with its typing slips put right, and its vector: what the semantic
        cache and retrieval read (the prompt keeps the question as asked)."""
        spelled = self.lookup.spelled(ctx.state, ctx.request.question)
        return spelled, self.answerer.embed(spelled)

    async def run(self, ctx: Answering, *, tokens: bool) -> AsyncIterator[StreamEvent]:
        """Semantic cache, then retrieval and generation: token events (when ``tokens``) then
        one final event carrying the result."""
        request, state, timings = ctx.request, ctx.state, ctx.timings
        try:
            early = await self.arms.runner_for(ctx.arm)
        except LLMError:
            early = None  # the generation step below reports it
        if early is not None:
            try:  # refuse an overload before embedding and retrieval, not after them
                early.check_room()
            except OverloadedError:
                self._rejected()
                raise
        te = time.perf_counter()
        spelled, vector = await asyncio.to_thread(self._embed, ctx)
        self._stage("embed", time.perf_counter() - te, timings)
        hit = await self.lookup.semantic(ctx, vector, spelled)
        if hit is not None:
            if tokens:
                yield StreamEvent("token", text=hit.entry.answer)
            result = self.lookup.served(ctx, hit.entry, "semantic", similarity=hit.similarity)
            yield StreamEvent("final", result=result)
            return
        if self.admission is not None:
            await self.admission.admit_generation(request)
        ts = time.perf_counter()
        k = request.top_k or self.settings.top_k
        hits = await asyncio.to_thread(
            self.answerer.retrieve, state.index, spelled, vector, top_k=k
        )
        self._stage("search", time.perf_counter() - ts, timings)
        sources = [Source.of(h) for h in hits]
        asked = request.generation or GenerationRequest()
        messages = self.answerer.prompt(
            request.question,
            hits,
            prompt_version=ctx.arm.prompt_version,
            system=asked.system,
            history=asked.history,
        )
        max_new_tokens = asked.max_new_tokens or self.answerer.config.max_new_tokens
        tg = time.perf_counter()
        pieces: list[str] = []
        stats = GenerationStats()
        try:
            runner = await self.arms.runner_for(ctx.arm)
            if tokens:
                async for piece in runner.stream(
                    messages, max_new_tokens=max_new_tokens, sampling=asked.sampling, stats=stats
                ):
                    pieces.append(piece)
                    yield StreamEvent("token", text=piece)
                answer = "".join(pieces).strip()
            else:
                generated = await runner.generate(
                    messages, max_new_tokens=max_new_tokens, sampling=asked.sampling
                )
                answer = generated.text
                stats.tokens, stats.prompt_tokens = generated.tokens, generated.prompt_tokens
                stats.finish_reason = generated.finish_reason
        except OverloadedError:
            self._rejected()
            raise
        except LLMPromptTooLongError as exc:  # the request's fault: a 422, never "degraded"
            field = "messages" if asked.system or asked.history else "question"
            raise InvalidInputError(field, f"is too long for the model's context ({exc})") from exc
        except LLMError as exc:
            timings["generate"] = ms(time.perf_counter() - tg)
            log.warning("LLM failed, answering with sources only: %s", exc)
            result = self.framing.finish(
                ctx, None, sources, ctx.outcome, degraded=f"llm_unavailable: {exc}"
            )
            yield StreamEvent("final", result=result)
            return
        self._stage("generate", time.perf_counter() - tg, timings)
        if ctx.use_cache and ctx.outcome != "unavailable" and answer:
            await self._write_through(ctx, answer, hits, vector)
        yield StreamEvent(
            "final", result=self.framing.finish(ctx, answer, sources, ctx.outcome, stats=stats)
        )

    def _stage(self, name: str, seconds: float, timings: dict[str, float]) -> None:
        timings[name] = ms(seconds)
        if self.observer:
            self.observer.stage(name, seconds)

    def _rejected(self) -> None:
        if self.observer:
            self.observer.rejected()

    async def _write_through(
        self, ctx: Answering, answer: str, hits: list[Hit], vector: np.ndarray
    ) -> None:
        assert self.cache is not None
        scope = ctx.scope
        computed = self.answerer.computed(
            ctx.request.question,
            answer,
            hits,
            vector,
            index_version=scope.index_version,
            llm_model=scope.llm_model,
            prompt_version=scope.prompt_version,
        )
        ttl = self.settings.live_cache_ttl_s
        if ttl <= 0:
            return
        entry = computed.to_cache_entry(origin="live", ttl_s=ttl, namespace=scope.namespace)
        self.lookup.local.remember(scope, ctx.qhash, entry)  # served from here too if Redis is down
        try:
            await self.cache.put(entry, vector, ttl_s=ttl)
        except CacheUnavailableError as exc:
            cache_down(self.observer, "put", exc)
