"""The service's answer-cache adapters (in-memory, asyncio Redis) against the port's suite."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from core.cache.memory import InMemoryAnswerStore
from core.cache.redis_store import RedisAnswerCache
from online.cache.async_cache import AsyncRedisAnswerCache
from online.cache.memory import InMemoryAnswerCache
from online.cache.port import AnswerCache
from tests.conftest import TEST_REDIS_URL
from tests.core.answer_store_suite import SCOPE, entry
from tests.online.answer_cache_suite import AnswerCacheContract, basis, run, unit


@pytest.mark.unit
class TestInMemoryAnswerCache(AnswerCacheContract):
    now = 0.0

    async def make_cache(self, *, capacity: int = 1000) -> AnswerCache:
        store = InMemoryAnswerStore(clock=lambda: self.now, capacity=capacity)
        return InMemoryAnswerCache(store)

    def expire(self) -> None:
        self.now += 1e9

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

    async def make_cache(self, *, capacity: int = 1000) -> AsyncRedisAnswerCache:
        from core.redis_clients import async_redis

        return AsyncRedisAnswerCache(async_redis(TEST_REDIS_URL), capacity=capacity)

    def expire(self) -> None:
        """What Redis does when TTLs pass: the answers go; their expiry times are now past."""
        r = self.redis_client
        for hashed in r.zrange(SCOPE.keys.expiry, 0, -1):
            r.delete(SCOPE.key(hashed.decode()))
            r.zadd(SCOPE.keys.expiry, {hashed: 0})

    def test_vectors_and_bookkeeping_expire_with_the_answers(self) -> None:
        e = entry("q with ttl")

        async def go() -> None:
            cache = await self.make_cache()
            await cache.put(e, unit(1, 0), ttl_s=600)

        run(go())
        for key in SCOPE.keys.all():
            assert 0 < self.redis_client.pttl(key) <= 600_000, key

    def test_an_expired_vector_leaves_redis_at_the_next_write(self) -> None:
        a, b = entry("question a"), entry("question b")

        async def go() -> None:
            cache = await self.make_cache()
            await cache.put(a, basis(0), ttl_s=600)
            self.expire()
            await cache.put(b, basis(1), ttl_s=600)

        run(go())
        assert not self.redis_client.hexists(SCOPE.keys.vectors, a.normalized_key)
        assert self.redis_client.hexists(SCOPE.keys.vectors, b.normalized_key)

    def test_capacity_bounds_what_redis_holds(self) -> None:
        async def go() -> None:
            cache = await self.make_cache(capacity=5)
            for i in range(20):
                await cache.put(entry(f"question {i}"), basis(i % 8), ttl_s=600)
            assert cache.evicted == 15

        run(go())
        r = self.redis_client
        assert len(list(r.scan_iter(match=SCOPE.key("*")))) == 5
        assert r.hlen(SCOPE.keys.vectors) == 5
        assert r.zcard(SCOPE.keys.lru) == 5
        assert r.zcard(SCOPE.keys.expiry) == 5

    def test_a_replica_replays_changes_without_rereading(self) -> None:
        es = [entry(f"question {i}") for i in range(4)]

        async def go() -> None:
            writer = await self.make_cache(capacity=2)
            reader = await self.make_cache(capacity=2)
            await writer.put(es[0], basis(0), ttl_s=600)
            assert await reader.get_semantic(SCOPE, es[0].question, basis(0), threshold=0.9)
            assert reader.full_loads == 1  # its first sight of the scope
            for i in (1, 2, 3):  # the third and fourth evict the first two
                await writer.put(es[i], basis(i), ttl_s=600)
            hit = await reader.get_semantic(SCOPE, es[3].question, basis(3), threshold=0.9)
            assert hit is not None
            assert hit.entry == es[3]
            assert await reader.get_semantic(SCOPE, es[0].question, basis(0), threshold=0.9) is None
            assert reader.full_loads == 1
            mirror = reader._mirrors[SCOPE.semantic_key()]
            assert sorted(mirror.hashes) == sorted(e.normalized_key for e in es[2:])

        run(go())

    def test_a_purged_scope_is_reloaded_by_a_replica(self) -> None:
        a, b = entry("question a"), entry("question b")

        async def go() -> None:
            writer = await self.make_cache()
            reader = await self.make_cache()
            await writer.put(a, basis(0), ttl_s=600)
            assert await reader.get_semantic(SCOPE, a.question, basis(0), threshold=0.9)
            await writer.purge(SCOPE)
            await writer.put(b, basis(1), ttl_s=600)
            assert await reader.get_semantic(SCOPE, a.question, basis(0), threshold=0.9) is None
            assert await reader.get_semantic(SCOPE, b.question, basis(1), threshold=0.9)

        run(go())

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

    def test_a_whole_read_outlives_the_lookup_that_started_it(self) -> None:
        async def go() -> None:
            from core.redis_clients import async_redis

            writer = await self.make_cache()
            for i in range(1500):
                await writer.put(entry(f"question {i}"), basis(i % 8), ttl_s=600)
            reader = AsyncRedisAnswerCache(async_redis(TEST_REDIS_URL))
            started = asyncio.Event()
            whole_read = reader._reload

            async def reload(scope: Any, mirror: Any) -> None:
                started.set()
                await whole_read(scope, mirror)

            reader._reload = reload  # type: ignore[method-assign]
            lookup = asyncio.create_task(
                reader.get_semantic(SCOPE, "question 1", basis(1), threshold=0.9)
            )
            await started.wait()
            lookup.cancel()  # what a lookup's deadline does
            with contextlib.suppress(asyncio.CancelledError):
                await lookup
            mirror = reader._mirrors[SCOPE.semantic_key()]
            assert mirror.loading is not None
            await mirror.loading
            assert len(mirror) == 1000  # the capacity of make_cache
            assert reader.full_loads == 1

        run(go())
