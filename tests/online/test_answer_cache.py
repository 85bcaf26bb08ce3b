"""The service's answer-cache adapters (in-memory, asyncio Redis) against the port's suite."""

from __future__ import annotations

from typing import Any

import pytest

from core.cache.memory import InMemoryAnswerStore
from core.cache.redis_store import RedisAnswerCache
from online.cache.async_cache import AsyncRedisAnswerCache
from online.cache.memory import InMemoryAnswerCache
from online.cache.port import AnswerCache
from tests.conftest import TEST_REDIS_URL
from tests.core.answer_store_suite import SCOPE, entry
from tests.online.answer_cache_suite import AnswerCacheContract, run, unit


@pytest.mark.unit
class TestInMemoryAnswerCache(AnswerCacheContract):
    async def make_cache(self) -> AnswerCache:
        return InMemoryAnswerCache()

    def test_sees_what_a_batch_writer_put_in_the_shared_store(self) -> None:
        store = InMemoryAnswerStore()
        e = entry("warmed offline")
        store.put(e, unit(1, 0), ttl_s=60)
        assert run(InMemoryAnswerCache(store).get_exact(SCOPE, e.normalized_key)) == e


@pytest.mark.integration
class TestAsyncRedisAnswerCache(AnswerCacheContract):
    @pytest.fixture(autouse=True)
    def _clean(self, redis_client: Any) -> None:
        self.redis_client = redis_client  # flushed before and after each test

    async def make_cache(self) -> AnswerCache:
        from online.redis_conn import async_redis

        return AsyncRedisAnswerCache(async_redis(TEST_REDIS_URL))

    def test_reads_what_the_blocking_store_wrote(self) -> None:
        e = entry("warmed offline")
        RedisAnswerCache(self.redis_client).put(e, unit(1, 0, 0, 0), ttl_s=60)

        async def go() -> None:
            cache = await self.make_cache()
            assert await cache.get_exact(SCOPE, e.normalized_key) == e
            hit = await cache.get_semantic(SCOPE, e.question, unit(1, 0, 0, 0), threshold=0.9)
            assert hit is not None
            assert hit.entry == e

        run(go())
