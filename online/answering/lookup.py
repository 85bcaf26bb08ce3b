"""The cache lookups of the answer path: exact, then semantic, and their slow/down policy.

A slow lookup is refused (503 with Retry-After) rather than answered live; an unavailable cache
is answered live, an exact lookup first from this replica's own copy of its recent answers
(:class:`~online.cache.local_hot.LocalHotAnswers`). A borderline semantic miss is queued for the
pair judge when so configured.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from core.cache.port import AnswerCache, SemanticHit
from core.matching.spelling import Speller, speller_for
from core.matching.verifier import HitVerifier, verifier_for
from core.redis_clients import REDIS_FAILURES, deadline
from online.answering.context import Answering, AnswerObserver, Framing, ms
from online.answering.sources import CitedSources
from online.answers import AnswerResult
from online.cache.local_hot import LocalHotAnswers
from online.errors import CacheSlowError, CacheUnavailableError, OverloadedError
from online.index_state import IndexState
from online.settings import OnlineSettings
from shared_schemas.cache import CacheEntry
from shared_schemas.events import CacheOutcome

log = logging.getLogger(__name__)


def cache_slow(observer: AnswerObserver | None, operation: str, exc: Exception) -> OverloadedError:
    """A slow lookup is not a dead Redis: refuse (Retry-After) rather than generate."""
    log.warning("cache %s gave no answer in time, refusing: %s", operation, exc)
    if observer:
        observer.cache_unavailable(f"{operation}_slow")
    return OverloadedError(f"the answer cache is slow: {exc}", retry_after_s=2)


def cache_down(observer: AnswerObserver | None, operation: str, exc: Exception) -> None:
    """The cache is unavailable: said and counted; the answer goes on live."""
    log.warning("cache unavailable during %s, answering live: %s", operation, exc)
    if observer:
        observer.cache_unavailable(operation)


class Lookup:
    """The exact and semantic lookups of a request begun by :class:`Framing`."""

    def __init__(
        self,
        *,
        settings: OnlineSettings,
        cache: AnswerCache | None,
        framing: Framing,
        sources: CitedSources,
        observer: AnswerObserver | None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.framing = framing
        self.sources = sources
        self.observer = observer
        self._verifiers: dict[str, HitVerifier] = {}  # index version -> its term statistics
        self._spellers: dict[str, Speller | None] = {}  # index version -> its documents' words
        #: answers this replica served lately, for while Redis is unavailable
        self.local = LocalHotAnswers(
            settings.local_hot_capacity, max_age_s=settings.local_hot_max_age_s
        )

    def verifier(self, state: IndexState) -> HitVerifier | None:
        """The semantic-hit verifier for an index version (None: the signature check only)."""
        if self.settings.semantic_verifier != "evidence":
            return None
        verifier = self._verifiers.get(state.version)
        if verifier is None:
            if len(self._verifiers) >= 4:  # live, canary and a version being swapped in
                self._verifiers.clear()
            verifier = verifier_for(self.settings, state.index)
            assert verifier is not None
            self._verifiers[state.version] = verifier
        return verifier

    def speller(self, state: IndexState) -> Speller | None:
        """The speller for an index version (None: slips are left as written). Its vocabulary
        is read from the version's texts on first use (0.24 s for SQuAD dev's 2,067 chunks), so
        call it off the event loop."""
        if state.version not in self._spellers:
            if len(self._spellers) >= 4:  # live, canary and a version being swapped in
                self._spellers.clear()
            self._spellers[state.version] = speller_for(self.settings, state.index)
        return self._spellers[state.version]

    def spelled(self, state: IndexState, question: str) -> str:
        """``question`` as the semantic side reads it: its typing slips put right."""
        speller = self.speller(state)
        return question if speller is None else speller.correct(question)

    def served(
        self,
        ctx: Answering,
        entry: CacheEntry,
        cache: CacheOutcome,
        *,
        similarity: float | None = None,
        stale_s: float | None = None,
    ) -> AnswerResult:
        """The result of a cached answer (its sources resolved against the request's index)."""
        sources, rendered = self.sources(ctx.state, entry)
        return self.framing.finish(
            ctx,
            entry.answer,
            sources,
            cache,
            similarity=similarity,
            sources_json=rendered,
            produced_by=entry.produced_by,
            tier=entry.tier,
            stale_s=stale_s,
        )

    async def exact(self, ctx: Answering) -> AnswerResult | None:
        """One Redis GET of the versioned key; a hit is the whole answer."""
        if not ctx.use_cache:
            return None
        assert self.cache is not None
        tc = time.perf_counter()
        stale_s: float | None = None
        try:
            entry = await self.cache.get_exact(ctx.scope, ctx.qhash)
        except CacheSlowError as exc:
            raise cache_slow(self.observer, "get", exc) from exc
        except CacheUnavailableError as exc:
            ctx.outcome = "unavailable"
            cache_down(self.observer, "get", exc)
            entry, stale_s = self._recall(ctx)
        else:
            if entry is not None:
                self.local.remember(ctx.scope, ctx.qhash, entry)
        ctx.timings["cache"] = ms(time.perf_counter() - tc)
        if entry is None:
            return None
        return self.served(ctx, entry, "exact", stale_s=stale_s)

    def _recall(self, ctx: Answering) -> tuple[CacheEntry | None, float | None]:
        """Redis is unavailable: this replica's own copy of the answer, and its age."""
        found = self.local.recall(ctx.scope, ctx.qhash)
        if self.observer:
            self.observer.local_answer("served" if found else "absent")
        return found if found else (None, None)

    async def semantic(
        self, ctx: Answering, vector: np.ndarray, asked: str | None = None
    ) -> SemanticHit | None:
        """The nearest cached question close enough to answer this one, if the request may use
        the cache and the cache is up; a miss may go to the pair judge. ``asked``: the question
        as embedded (:meth:`spelled`), the request's own by default."""
        if not ctx.use_cache or ctx.outcome == "unavailable":
            return None
        assert self.cache is not None
        ts = time.perf_counter()
        try:
            hit = await self.cache.get_semantic(
                ctx.scope,
                asked or ctx.request.question,
                vector,
                threshold=self.settings.semantic_threshold,
                verifier=self.verifier(ctx.state),
            )
        except CacheSlowError as exc:
            raise cache_slow(self.observer, "semantic", exc) from exc
        except CacheUnavailableError as exc:
            ctx.outcome, hit = "unavailable", None
            cache_down(self.observer, "semantic", exc)
        ctx.timings["semantic"] = ms(time.perf_counter() - ts)
        if hit is None and self.settings.judge_misses and ctx.outcome != "unavailable":
            await self._queue_judgment(ctx, vector, asked or ctx.request.question)
        return hit

    async def _queue_judgment(self, ctx: Answering, vector: np.ndarray, asked: str) -> None:
        """A borderline miss: the nearest cached question goes to the pair judge with it (as
        the semantic side read it, slips put right; ``online.refine.judging``); optional work,
        so any failure is only logged."""
        from online.refine.judging import enqueue_judgment

        nearest = getattr(self.cache, "nearest", None)
        redis = getattr(self.cache, "redis", None)
        if nearest is None or redis is None:
            return
        try:
            found = await nearest(ctx.scope, vector, floor=self.settings.judge_floor)
            if found is None or found[0] == ctx.qhash:
                return
            async with deadline():
                queued = await enqueue_judgment(
                    redis,
                    ctx.scope,
                    question=asked,
                    qhash=ctx.qhash,
                    candidate=found[0],
                    similarity=found[1],
                    ttl_s=self.settings.judge_ttl_s,
                    maxlen=self.settings.refine_stream_maxlen,
                )
            if self.observer:
                self.observer.judgment("queued" if queued else "seen")
        except REDIS_FAILURES as exc:
            log.info("borderline miss not queued for the judge: %s", exc)
