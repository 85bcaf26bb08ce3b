"""The composition root: every adapter the service uses, built once from settings.

``build_components(settings)`` wires the real ones (bundled embedding model, configured LLM,
Redis); tests pass their own (e.g. a fake LLM) through the keyword arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from core.answering import Answerer
from core.artifacts import open_artifact_store
from core.bootstrap import build_answerer
from core.cache.factory import answer_cache_for
from core.cache.port import AnswerCache
from core.encoder import TextEncoder
from core.llm.base import LLMBackend
from core.redis_clients import async_redis, deadline
from online.arms import ArmTable, LLMFactory
from online.experiments.service import Experiments, build_experiments
from online.index_state import IndexHolder
from online.limits.limiter import RedisRateLimiter
from online.llm.runner import GenerationRunner
from online.metrics import ServiceMetrics
from online.observer import ServiceObserver
from online.periodic import Periodic
from online.pipeline import AnswerPipeline
from online.querylog_writer import QueryLogWriter
from online.reload import IndexReloader
from online.replica import ReplicaHeartbeat, default_replica_id
from online.settings import OnlineSettings

log = logging.getLogger(__name__)
#: the start-up probe of an upstream LLM waits this long at most
LLM_PROBE_TIMEOUT_S = 2.0


@dataclass
class Components:
    settings: OnlineSettings
    answerer: Answerer
    redis: Any
    cache: AnswerCache
    indexes: IndexHolder
    reloader: IndexReloader
    runner: GenerationRunner
    metrics: ServiceMetrics
    querylog: QueryLogWriter
    pipeline: AnswerPipeline
    experiments: Experiments
    arms: ArmTable
    limiter: RedisRateLimiter
    heartbeat: ReplicaHeartbeat
    background: tuple[Periodic, ...] = ()

    @property
    def encoder(self) -> TextEncoder:
        return self.answerer.encoder

    @property
    def llm(self) -> LLMBackend:
        return self.answerer.llm

    async def start(self) -> None:
        try:  # a restarted replica serves the shared rollbacks and weights from its first answer
            await self.experiments.sync()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("shared experiment state not readable at start (%s): declared weights", exc)
        outcome = await self.reloader.reload()
        if outcome.error:
            log.warning("no index loaded at start: %s", outcome.error)
        await asyncio.to_thread(
            self.arms.load_pinned,
            self.reloader.loader,
            self.settings.indexes_dir,
            self.indexes.current,
        )
        probe = getattr(self.llm, "probe", None)  # an upstream: does it answer at all?
        if callable(probe):
            # ``/readyz``'s llm_ready says False until it has answered, not True untried
            await asyncio.to_thread(probe, LLM_PROBE_TIMEOUT_S)
        self.querylog.start()
        self.reloader.start()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await self.heartbeat.beat()
        for task in self.background:
            task.start()

    async def stop(self) -> None:
        for task in self.background:
            await task.stop()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await self.heartbeat.leave()
        await self.reloader.stop()
        await self.querylog.stop()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with deadline():
                await self.redis.aclose()
        self.arms.close()
        self.llm.close()

    async def redis_ok(self) -> bool:
        try:
            async with deadline():
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError):
            self.metrics.redis_up.set(0)
            return False
        self.metrics.redis_up.set(1)
        return True


def build_components(
    settings: OnlineSettings,
    *,
    encoder: TextEncoder | None = None,
    llm: LLMBackend | None = None,
    redis: Any | None = None,
    metrics: ServiceMetrics | None = None,
    variant_llm: LLMFactory | None = None,
    cache: AnswerCache | None = None,
) -> Components:
    """Build every adapter (blocking: loads the models unless given).

    ``variant_llm`` builds the LLM of a variant that names its own backend/model/URL (default:
    ``core.llm.factory.build_llm``); it is called lazily, on that variant's first live answer.
    """
    answerer = build_answerer(settings, encoder=encoder, llm=llm)
    llm = answerer.llm
    redis = (
        redis
        if redis is not None
        else async_redis(settings.redis_url, max_connections=settings.redis_max_connections)
    )
    metrics = metrics or ServiceMetrics()
    indexes = IndexHolder()
    querylog = QueryLogWriter(
        redis,
        maxlen=settings.query_log_maxlen,
        on_drop=lambda n: metrics.querylog_dropped.inc(n),
    )
    runner = GenerationRunner(
        llm,
        concurrency=settings.generation_concurrency,
        queue=settings.generation_queue,
        timeout_s=settings.llm_timeout_s,
        observe=metrics.observe_generation,
    )
    if cache is None:
        cache = answer_cache_for(
            settings,
            redis=redis,
            capacity=settings.cache_capacity,
            lookup_timeout_s=settings.cache_wait_s,
            memo_entries=settings.hit_memo_entries,
        )
    replica = settings.replica_id or default_replica_id()
    experiments = build_experiments(settings, metrics, redis=redis, replica=replica)
    limiter = RedisRateLimiter(
        redis, limits=settings.rate_limits, api_keys=settings.api_keys, metrics=metrics
    )
    arms = ArmTable(
        settings,
        llm=llm,
        variants=experiments.router.variants,
        llm_factory=variant_llm,
        runner=runner,
        observe=metrics.observe_generation,
        metrics=metrics,
    )
    observer = ServiceObserver(metrics, querylog, experiments)
    pipeline = AnswerPipeline(
        settings=settings,
        answerer=answerer,
        indexes=indexes,
        cache=cache,
        observer=observer,
        arms=arms,
        admission=limiter,
    )
    reloader = IndexReloader(
        settings=settings,
        holder=indexes,
        redis=redis,
        metrics=metrics,
        artifacts=open_artifact_store(settings.artifact_store_config()),
    )
    heartbeat = ReplicaHeartbeat(
        redis,
        replica=replica,
        indexes=indexes,
        weights=experiments.router.weights,
        registry=metrics.registry,
        ttl_s=settings.heartbeat_ttl_s,
        answers=lambda: observer.by_producer,
    )
    background = [Periodic("replica-heartbeat", heartbeat.beat, settings.heartbeat_s)]
    if experiments.shared is not None:
        background.append(
            Periodic("experiments-sync", experiments.sync, settings.experiment_sync_s)
        )
    return Components(
        settings=settings,
        answerer=answerer,
        redis=redis,
        cache=cache,
        indexes=indexes,
        reloader=reloader,
        runner=runner,
        metrics=metrics,
        querylog=querylog,
        pipeline=pipeline,
        experiments=experiments,
        arms=arms,
        limiter=limiter,
        heartbeat=heartbeat,
        background=tuple(background),
    )
