"""The service's answer path: exact cache → semantic cache → live (embed, search, generate).

The live miss runs the core's :class:`~core.answering.Answerer` steps (the same ones batch warm
and the refine worker chain in ``answer_once``), generating through the arm's bounded runner, so
a live answer is written through as exactly the entry a precompute would have stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from redis.exceptions import RedisError

from core.answering import Answerer
from core.cache.codec import CacheScope
from core.errors import LLMPromptTooLongError
from core.index import Hit
from core.llm.base import GenerationStats
from online.answers import (
    AnswerRequest,
    AnswerResult,
    GenerationRequest,
    Source,
    render_sources,
)
from online.arms import Arm, ArmTable
from online.cache.local_hot import LocalHotAnswers
from online.cache.port import AnswerCache
from online.cache.verifier import HitVerifier, verifier_for
from online.deadline import deadline
from online.errors import (
    CacheSlowError,
    CacheUnavailableError,
    InvalidInputError,
    LLMError,
    OverloadedError,
)
from online.index_state import IndexHolder, IndexState
from online.settings import OnlineSettings
from shared_schemas.cache import CacheEntry
from shared_schemas.events import CacheOutcome
from shared_schemas.hashing import question_key_hash

log = logging.getLogger(__name__)


class AnswerObserver(Protocol):
    """Told about every answer and stage timing (metrics, query log)."""

    def answered(self, request: AnswerRequest, result: AnswerResult) -> None: ...

    def stage(self, name: str, seconds: float) -> None: ...

    def cache_unavailable(self, operation: str) -> None: ...

    def local_answer(self, outcome: str) -> None:
        """Redis was unavailable for an exact lookup: the replica's own copy ``served``, or
        ``absent`` (none, or older than the bound)."""
        ...

    def judgment(self, outcome: str) -> None:
        """A borderline miss: ``queued`` for the pair judge, ``seen`` (queued before)."""
        ...

    def rejected(self) -> None:
        """A generation was refused (queue full)."""
        ...


class GenerationAdmission(Protocol):
    """Rate limits of live generations (cache hits are not counted here)."""

    async def admit_generation(self, request: AnswerRequest) -> None:
        """Return, or raise ``RateLimitedError`` when the request's client is over its limit."""
        ...


@dataclass(frozen=True)
class StreamEvent:
    kind: str  # "token" | "final"
    text: str = ""
    result: AnswerResult | None = None


@dataclass
class Answering:
    """One request's state while it moves through the pipeline (begun by ``_begin``)."""

    request: AnswerRequest
    state: IndexState
    arm: Arm
    scope: CacheScope
    qhash: str
    t0: float
    use_cache: bool
    outcome: CacheOutcome = "miss"
    timings: dict[str, float] = field(default_factory=dict)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


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
        self.admission = admission
        self.answerer = answerer
        self.indexes = indexes or IndexHolder()
        self.cache = cache
        self.observer = observer
        self.arms = arms
        self._scopes: dict[tuple[str, ...], CacheScope] = {}
        self._sources_memo: dict[tuple[Any, ...], tuple[list[Source], str]] = {}
        self._verifiers: dict[str, HitVerifier] = {}  # index version -> its term statistics
        #: answers this replica served lately, for while Redis is unavailable
        self.local = LocalHotAnswers(
            settings.local_hot_capacity, max_age_s=settings.local_hot_max_age_s
        )

    # ---------- shared pieces ----------
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

    def scope(self, index_version: str, arm: Arm | None = None) -> CacheScope:
        """The cache scope of ``index_version`` for ``arm`` (default: the service's own)."""
        arm = arm or self.arms.default
        key = (index_version, arm.llm_model, arm.prompt_version, arm.namespace)
        scope = self._scopes.get(key)
        if scope is None:
            if len(self._scopes) > 64:
                self._scopes.clear()
            scope = self._scopes[key] = self.answerer.scope(
                index_version,
                llm_model=arm.llm_model,
                prompt_version=arm.prompt_version,
                namespace=arm.namespace,
            )
        return scope

    # ---------- async: the API ----------
    async def answer(
        self, request: AnswerRequest, *, begun: Answering | None = None
    ) -> AnswerResult:
        """The whole answer (cache hits return without touching the live path).

        ``begun``: a request whose exact lookup :meth:`exact_hit` already did (and missed).
        """
        if begun is not None:
            ctx = begun
        else:
            ctx = self._begin(request)
            hit = await self._exact(ctx)
            if hit is not None:
                return hit
        result: AnswerResult | None = None
        async for event in self._live(ctx, tokens=False):
            if event.kind == "final":
                result = event.result
        assert result is not None
        return result

    async def stream(
        self, request: AnswerRequest, *, tokens: bool = True
    ) -> AsyncGenerator[StreamEvent, None]:
        """Token events (when ``tokens``) then one final event carrying the result."""
        ctx = self._begin(request)
        hit = await self._exact(ctx)
        if hit is not None:
            if tokens and hit.answer:
                yield StreamEvent("token", text=hit.answer)
            yield StreamEvent("final", result=hit)
            return
        async for event in self._live(ctx, tokens=tokens):
            yield event

    async def exact_hit(self, request: AnswerRequest) -> tuple[AnswerResult | None, Answering]:
        """Only the exact-cache step: the answer on a hit, and the state to go on with."""
        ctx = self._begin(request)
        return await self._exact(ctx), ctx

    def _begin(self, request: AnswerRequest) -> Answering:
        arm = self.arms[request.variant]
        state = self.indexes.require()
        if arm.pinned is not None:
            state = arm.pinned
        return Answering(
            request=request,
            state=state,
            arm=arm,
            scope=self.scope(state.version, arm),
            qhash=question_key_hash(request.question),
            t0=time.perf_counter(),
            # top_k, a conversation and decoding change the answer but are not in the key:
            # only the service's own answer is cached (read and written)
            use_cache=request.use_cache
            and self.cache is not None
            and request.top_k in (None, self.settings.top_k)
            and (
                request.generation is None
                or request.generation.is_default(self.answerer.config.max_new_tokens)
            ),
        )

    def _finish(
        self,
        ctx: Answering,
        answer: str | None,
        sources: list[Source],
        cache: CacheOutcome,
        *,
        degraded: str | None = None,
        similarity: float | None = None,
        sources_json: str | None = None,
        stats: GenerationStats | None = None,
        produced_by: str | None = None,
        tier: str | None = None,
        stale_s: float | None = None,
    ) -> AnswerResult:
        """The result; ``stats``: the generation's, when one ran; ``produced_by``: a cached
        answer's model when it is not the arm's (a refined answer)."""
        ctx.timings["total"] = _ms(time.perf_counter() - ctx.t0)
        result = AnswerResult(
            query_id=ctx.request.query_id,
            question=ctx.request.question,
            question_hash=ctx.qhash,
            answer=answer,
            sources=sources,
            cache=cache,
            index_version=ctx.state.version,
            embed_model=self.answerer.config.embedding_model,
            llm_model=produced_by or ctx.arm.llm_model,
            variant=ctx.request.variant,
            timings_ms=ctx.timings,
            degraded=degraded,
            similarity=similarity,
            sources_json=sources_json,
            tier=tier or "fast",
            stale_s=stale_s,
        )
        if stats is not None:
            result.prompt_tokens = stats.prompt_tokens
            result.completion_tokens = stats.tokens
            result.finish_reason = stats.finish_reason
        if self.observer:
            self.observer.answered(ctx.request, result)
        return result

    async def _exact(self, ctx: Answering) -> AnswerResult | None:
        """One Redis GET of the versioned key; a hit is the whole answer."""
        if not ctx.use_cache:
            return None
        assert self.cache is not None
        tc = time.perf_counter()
        stale_s: float | None = None
        try:
            entry = await self.cache.get_exact(ctx.scope, ctx.qhash)
        except CacheSlowError as exc:
            raise self._cache_slow("get", exc) from exc
        except CacheUnavailableError as exc:
            ctx.outcome = "unavailable"
            self._cache_down("get", exc)
            entry, stale_s = self._recall(ctx)
        else:
            if entry is not None:
                self.local.remember(ctx.scope, ctx.qhash, entry)
        ctx.timings["cache"] = _ms(time.perf_counter() - tc)
        if entry is None:
            return None
        sources, rendered = self._cited_sources(ctx.state, entry)
        result = self._finish(
            ctx,
            entry.answer,
            sources,
            "exact",
            sources_json=rendered,
            produced_by=entry.produced_by,
            tier=entry.tier,
            stale_s=stale_s,
        )
        return result

    def _recall(self, ctx: Answering) -> tuple[CacheEntry | None, float | None]:
        """Redis is unavailable: this replica's own copy of the answer, and its age."""
        found = self.local.recall(ctx.scope, ctx.qhash)
        if self.observer:
            self.observer.local_answer("served" if found else "absent")
        return found if found else (None, None)

    async def _live(self, ctx: Answering, *, tokens: bool) -> AsyncIterator[StreamEvent]:
        """Semantic cache, then retrieval and generation."""
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
        vector = await asyncio.to_thread(self.answerer.embed, request.question)
        self._stage("embed", time.perf_counter() - te, timings)
        if ctx.use_cache and ctx.outcome != "unavailable":
            assert self.cache is not None
            ts = time.perf_counter()
            try:
                hit = await self.cache.get_semantic(
                    ctx.scope,
                    request.question,
                    vector,
                    threshold=self.settings.semantic_threshold,
                    verifier=self.verifier(state),
                )
            except CacheSlowError as exc:
                raise self._cache_slow("semantic", exc) from exc
            except CacheUnavailableError as exc:
                ctx.outcome, hit = "unavailable", None
                self._cache_down("semantic", exc)
            timings["semantic"] = _ms(time.perf_counter() - ts)
            if hit is not None:
                if tokens:
                    yield StreamEvent("token", text=hit.entry.answer)
                sources, rendered = self._cited_sources(state, hit.entry)
                result = self._finish(
                    ctx,
                    hit.entry.answer,
                    sources,
                    "semantic",
                    similarity=hit.similarity,
                    sources_json=rendered,
                    produced_by=hit.entry.produced_by,
                    tier=hit.entry.tier,
                )
                yield StreamEvent("final", result=result)
                return
            if self.settings.judge_misses and ctx.outcome != "unavailable":
                await self._queue_judgment(ctx, vector)
        if self.admission is not None:
            await self.admission.admit_generation(request)
        ts = time.perf_counter()
        k = request.top_k or self.settings.top_k
        hits = await asyncio.to_thread(
            self.answerer.retrieve, state.index, request.question, vector, top_k=k
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
            timings["generate"] = _ms(time.perf_counter() - tg)
            log.warning("LLM failed, answering with sources only: %s", exc)
            result = self._finish(
                ctx, None, sources, ctx.outcome, degraded=f"llm_unavailable: {exc}"
            )
            yield StreamEvent("final", result=result)
            return
        self._stage("generate", time.perf_counter() - tg, timings)
        if ctx.use_cache and ctx.outcome != "unavailable" and answer:
            await self._write_through(ctx, answer, hits, vector)
        yield StreamEvent(
            "final", result=self._finish(ctx, answer, sources, ctx.outcome, stats=stats)
        )

    # ---------- internals ----------
    def _stage(self, name: str, seconds: float, timings: dict[str, float]) -> None:
        timings[name] = _ms(seconds)
        if self.observer:
            self.observer.stage(name, seconds)

    def _rejected(self) -> None:
        if self.observer:
            self.observer.rejected()

    def _cache_slow(self, operation: str, exc: Exception) -> OverloadedError:
        """A slow lookup is not a dead Redis: refuse (Retry-After) rather than generate."""
        log.warning("cache %s gave no answer in time, refusing: %s", operation, exc)
        if self.observer:
            self.observer.cache_unavailable(f"{operation}_slow")
        return OverloadedError(f"the answer cache is slow: {exc}", retry_after_s=2)

    def _cache_down(self, operation: str, exc: Exception) -> None:
        log.warning("cache unavailable during %s, answering live: %s", operation, exc)
        if self.observer:
            self.observer.cache_unavailable(operation)

    def _cited_sources(self, state: IndexState, entry: CacheEntry) -> tuple[list[Source], str]:
        """Sources of a cached answer and their JSON, memoised per index version and entry."""
        key = (state.version, entry.normalized_key, entry.created_at, entry.answer)
        memo = self._sources_memo.get(key)
        if memo is None:
            sources = self._resolve_sources(state, entry)
            memo = (sources, render_sources(sources))
            if len(self._sources_memo) >= self.settings.hit_memo_entries:
                self._sources_memo.clear()
            self._sources_memo[key] = memo
        return memo

    def _resolve_sources(self, state: IndexState, entry: CacheEntry) -> list[Source]:
        out = []
        for c in entry.cited:
            info = state.chunk(c.chunk_id)
            out.append(
                Source(
                    chunk_id=c.chunk_id,
                    doc_id=info.doc_id if info else c.doc_id,
                    title=info.title if info else "",
                    score=c.score,
                    text=info.text if info else "",
                )
            )
        return out

    async def _queue_judgment(self, ctx: Answering, vector: np.ndarray) -> None:
        """A borderline miss: the nearest cached question goes to the pair judge with it
        (``online.refine.judging``); optional work, so any failure is only logged."""
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
                    question=ctx.request.question,
                    qhash=ctx.qhash,
                    candidate=found[0],
                    similarity=found[1],
                    ttl_s=self.settings.judge_ttl_s,
                    maxlen=self.settings.refine_stream_maxlen,
                )
            if self.observer:
                self.observer.judgment("queued" if queued else "seen")
        except (RedisError, OSError, TimeoutError) as exc:
            log.info("borderline miss not queued for the judge: %s", exc)

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
        self.local.remember(scope, ctx.qhash, entry)  # served from here too if Redis is down
        try:
            await self.cache.put(entry, vector, ttl_s=ttl)
        except CacheUnavailableError as exc:
            self._cache_down("put", exc)
