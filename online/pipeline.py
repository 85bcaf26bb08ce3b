"""The service's answer path: exact cache → semantic cache → live (embed, search, generate).

:class:`AnswerPipeline` holds the entry points (:meth:`~AnswerPipeline.answer`,
:meth:`~AnswerPipeline.stream`, :meth:`~AnswerPipeline.exact_hit`) and chains the steps of
:mod:`online.answering`: a request begun (``context``), its exact lookup (``lookup``), then the
live answer (``live``: semantic lookup, retrieval, generation, write-through).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from core.answering import Answerer
from core.cache.codec import CacheScope
from core.cache.port import AnswerCache
from online.answering.context import (
    Answering,
    AnswerObserver,
    Framing,
    GenerationAdmission,
    StreamEvent,
)
from online.answering.live import LiveAnswers
from online.answering.lookup import Lookup
from online.answering.sources import CitedSources
from online.answers import AnswerRequest, AnswerResult
from online.arms import Arm, ArmTable
from online.index_state import IndexHolder
from online.settings import OnlineSettings


class AnswerPipeline:
    def __init__(
        self,
        *,
        settings: OnlineSettings,
        answerer: Answerer,
        arms: ArmTable,
        indexes: IndexHolder | None = None,
        cache: AnswerCache | None = None,
        observer: AnswerObserver | None = None,
        admission: GenerationAdmission | None = None,
    ) -> None:
        self.settings = settings
        self.answerer = answerer
        self.arms = arms
        self.indexes = indexes or IndexHolder()
        self.cache = cache
        self.framing = Framing(
            answerer=answerer,
            arms=arms,
            indexes=self.indexes,
            settings=settings,
            caching=cache is not None,
            observer=observer,
        )
        self.lookup = Lookup(
            settings=settings,
            cache=cache,
            framing=self.framing,
            sources=CitedSources(settings.hit_memo_entries),
            observer=observer,
        )
        self.live = LiveAnswers(
            settings=settings,
            answerer=answerer,
            arms=arms,
            cache=cache,
            framing=self.framing,
            lookup=self.lookup,
            observer=observer,
            admission=admission,
        )

    def scope(self, index_version: str, arm: Arm | None = None) -> CacheScope:
        """The cache scope of ``index_version`` for ``arm`` (default: the service's own)."""
        return self.framing.scope(index_version, arm)

    async def answer(
        self, request: AnswerRequest, *, begun: Answering | None = None
    ) -> AnswerResult:
        """The whole answer (cache hits return without touching the live path).

        ``begun``: a request whose exact lookup :meth:`exact_hit` already did (and missed).
        """
        if begun is not None:
            ctx = begun
        else:
            ctx = self.framing.begin(request)
            hit = await self.lookup.exact(ctx)
            if hit is not None:
                return hit
        result: AnswerResult | None = None
        async for event in self.live.run(ctx, tokens=False):
            if event.kind == "final":
                result = event.result
        assert result is not None
        return result

    async def stream(
        self, request: AnswerRequest, *, tokens: bool = True
    ) -> AsyncGenerator[StreamEvent, None]:
        """Token events (when ``tokens``) then one final event carrying the result."""
        ctx = self.framing.begin(request)
        hit = await self.lookup.exact(ctx)
        if hit is not None:
            if tokens and hit.answer:
                yield StreamEvent("token", text=hit.answer)
            yield StreamEvent("final", result=hit)
            return
        async for event in self.live.run(ctx, tokens=tokens):
            yield event

    async def exact_hit(self, request: AnswerRequest) -> tuple[AnswerResult | None, Answering]:
        """Only the exact-cache step: the answer on a hit, and the state to go on with."""
        ctx = self.framing.begin(request)
        return await self.lookup.exact(ctx), ctx
