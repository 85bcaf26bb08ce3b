"""One request's state on the answer path, and the first and last steps of every answer.

:class:`Framing` begins a request (its arm, index, cache scope and whether it may use the cache:
an :class:`Answering`) and finishes it (the :class:`~online.answers.AnswerResult`, told to the
:class:`AnswerObserver`); the lookups (:mod:`online.answering.lookup`) and the live answer
(:mod:`online.answering.live`) run in between.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from core.answering import Answerer
from core.cache.codec import CacheScope
from core.llm.base import GenerationStats
from online.answers import AnswerRequest, AnswerResult, Source
from online.arms import Arm, ArmTable
from online.index_state import IndexHolder, IndexState
from online.settings import OnlineSettings
from shared_schemas.events import CacheOutcome
from shared_schemas.hashing import question_key_hash


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
    """One request's state while it moves through the answer path (begun by :class:`Framing`)."""

    request: AnswerRequest
    state: IndexState
    arm: Arm
    scope: CacheScope
    qhash: str
    t0: float
    use_cache: bool
    outcome: CacheOutcome = "miss"
    timings: dict[str, float] = field(default_factory=dict)


def ms(seconds: float) -> float:
    """Seconds as the milliseconds of ``timings_ms``."""
    return round(seconds * 1000.0, 3)


class Framing:
    """Begins a request (:meth:`begin`) and finishes its answer (:meth:`finish`)."""

    def __init__(
        self,
        *,
        answerer: Answerer,
        arms: ArmTable,
        indexes: IndexHolder,
        settings: OnlineSettings,
        caching: bool,
        observer: AnswerObserver | None,
    ) -> None:
        self.answerer = answerer
        self.arms = arms
        self.indexes = indexes
        self.settings = settings
        self.caching = caching  # False: no answer cache at all
        self.observer = observer
        self._scopes: dict[tuple[str, ...], CacheScope] = {}
        #: question -> its key hash: a hot question is asked again and again, and normalising
        #: and hashing it was 3% of a cache hit's time (py-spy, bench_online.py --only hits)
        self._hashes: dict[str, str] = {}

    def question_hash(self, question: str) -> str:
        qhash = self._hashes.get(question)
        if qhash is None:
            if len(self._hashes) >= self.settings.hit_memo_entries:
                self._hashes.clear()
            qhash = self._hashes[question] = question_key_hash(question)
        return qhash

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

    def begin(self, request: AnswerRequest) -> Answering:
        arm = self.arms[request.variant]
        state = self.indexes.require()
        if arm.pinned is not None:
            state = arm.pinned
        return Answering(
            request=request,
            state=state,
            arm=arm,
            scope=self.scope(state.version, arm),
            qhash=self.question_hash(request.question),
            t0=time.perf_counter(),
            # top_k, a conversation and decoding change the answer but are not in the key:
            # only the service's own answer is cached (read and written)
            use_cache=request.use_cache
            and self.caching
            and request.top_k in (None, self.settings.top_k)
            and (
                request.generation is None
                or request.generation.is_default(self.answerer.config.max_new_tokens)
            ),
        )

    def finish(
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
        ctx.timings["total"] = ms(time.perf_counter() - ctx.t0)
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
