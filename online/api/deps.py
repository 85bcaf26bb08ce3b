"""Annotated dependencies: each route names the few adapters it uses, never the whole
:class:`online.components.Components`, and never constructs a client.

All are ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool, a thread hop
per request that the cache-hit path cannot afford. FastAPI resolves each at most once per
request, however many dependencies of that request name it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from core.cache.port import AnswerCache
from core.llm.base import LLMBackend
from online.components import Components
from online.experiments.service import Experiments
from online.index_state import IndexHolder
from online.limits.limiter import RedisRateLimiter
from online.metrics import ServiceMetrics
from online.pipeline import AnswerPipeline
from online.reload import IndexReloader
from online.settings import OnlineSettings

T = TypeVar("T")

#: pings Redis within the deadline, records ``redis_up`` and says whether it answered
RedisProbe = Callable[[], Awaitable[bool]]


def _part(pick: Callable[[Components], T]) -> Callable[[Request], Coroutine[Any, Any, T]]:
    """A dependency giving one part of the service's components (``app.state.components``)."""

    async def dependency(request: Request) -> T:
        components: Components = request.app.state.components
        return pick(components)

    return dependency


# outside the ``Annotated`` aliases, where mypy would not check them
get_pipeline = _part(lambda c: c.pipeline)
get_cache = _part(lambda c: c.cache)
get_settings_dep = _part(lambda c: c.settings)
get_redis = _part(lambda c: c.redis)
get_redis_probe = _part(lambda c: c.redis_ok)
get_indexes = _part(lambda c: c.indexes)
get_reloader = _part(lambda c: c.reloader)
get_experiments = _part(lambda c: c.experiments)
get_metrics = _part(lambda c: c.metrics)
get_llm = _part(lambda c: c.llm)
get_limiter = _part(lambda c: c.limiter)

PipelineDep = Annotated[AnswerPipeline, Depends(get_pipeline)]
CacheDep = Annotated[AnswerCache, Depends(get_cache)]
SettingsDep = Annotated[OnlineSettings, Depends(get_settings_dep)]
#: the service's async Redis client
RedisDep = Annotated[Any, Depends(get_redis)]
RedisProbeDep = Annotated[RedisProbe, Depends(get_redis_probe)]
IndexesDep = Annotated[IndexHolder, Depends(get_indexes)]
ReloaderDep = Annotated[IndexReloader, Depends(get_reloader)]
ExperimentsDep = Annotated[Experiments, Depends(get_experiments)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
LLMDep = Annotated[LLMBackend, Depends(get_llm)]
LimiterDep = Annotated[RedisRateLimiter, Depends(get_limiter)]
