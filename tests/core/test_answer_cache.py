"""The answer-cache adapters (in memory, Redis) against the port's one conformance suite, and
the factory that chooses between them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from core.cache.factory import answer_cache_for, answer_cache_sync_for, process_memory_cache
from core.cache.memory import MemoryAnswerCache, MemoryAnswerCacheSync
from core.cache.port import AnswerCache, AnswerCacheSync
from core.cache.redis import RedisAnswerCache
from core.cache.redis_sync import RedisAnswerCacheSync
from shared_schemas.config import CommonSettings
from tests.conftest import TEST_REDIS_URL
from tests.core.answer_cache_suite import SCOPE, AnswerCacheContract, basis, entry, run, unit


@pytest.mark.unit
class TestMemoryAnswerCache(AnswerCacheContract):
    now = 0.0

    @pytest.fixture(autouse=True)
    def _fresh(self) -> None:
        self.store: MemoryAnswerCacheSync | None = None

    def _store(self, capacity: int) -> MemoryAnswerCacheSync:
        if self.store is None:
            self.store = MemoryAnswerCacheSync(clock=lambda: self.now, capacity=capacity)
        return self.store

    async def make_cache(self, *, capacity: int = 1000) -> AnswerCache:
        return MemoryAnswerCache(self._store(capacity))

    def make_sync(self, *, capacity: int = 1000) -> AnswerCacheSync:
        return self._store(capacity)

    def expire(self) -> None:
        self.now += 1e9

    def test_entries_expire_with_their_ttl(self) -> None:
        self.now = 100.0
        view = self.make_sync()
        e = entry("q")
        view.put(e, ttl_s=10)
        self.now = 109.9
        assert view.get_exact(SCOPE, e.normalized_key) == e
        self.now = 110.0
        assert view.get_exact(SCOPE, e.normalized_key) is None


@pytest.mark.integration
class TestRedisAnswerCache(AnswerCacheContract):
    @pytest.fixture(autouse=True)
    def _clean(self, redis_client: Any) -> None:
        self.redis_client = redis_client  # flushed before and after each test

    async def make_cache(self, *, capacity: int = 1000) -> RedisAnswerCache:
        from core.redis_clients import async_redis

        return RedisAnswerCache(async_redis(TEST_REDIS_URL), capacity=capacity)

    def make_sync(self, *, capacity: int = 1000) -> RedisAnswerCacheSync:
        return RedisAnswerCacheSync(self.redis_client, capacity=capacity)

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

    def test_the_view_sets_the_ttl_on_the_key(self) -> None:
        key = self.make_sync().put(entry("q"), ttl_s=600)
        assert 0 < self.redis_client.ttl(key) <= 600

    def test_a_whole_read_outlives_the_lookup_that_started_it(self) -> None:
        async def go() -> None:
            from core.redis_clients import async_redis

            writer = await self.make_cache()
            for i in range(1500):
                await writer.put(entry(f"question {i}"), basis(i % 8), ttl_s=600)
            reader = RedisAnswerCache(async_redis(TEST_REDIS_URL))
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


@pytest.mark.unit
class TestFactory:
    def test_memory_is_one_store_per_process(self) -> None:
        settings = CommonSettings(cache_backend="memory")
        cache, view = answer_cache_for(settings), answer_cache_sync_for(settings)
        assert isinstance(cache, MemoryAnswerCache)
        assert view is process_memory_cache() is cache.store
        e = entry("written by a warm in this process")
        try:
            view.put(e, unit(1, 0), ttl_s=60)
            assert run(cache.get_exact(SCOPE, e.normalized_key)) == e
        finally:
            view.purge()

    def test_redis_is_the_default(self) -> None:
        settings = CommonSettings()
        assert settings.cache_backend == "redis"
        cache = answer_cache_for(settings, redis=object(), capacity=7, memo_entries=3)
        assert isinstance(cache, RedisAnswerCache)
        assert (cache.capacity, cache.memo_entries) == (7, 3)
        view = answer_cache_sync_for(settings, redis=object(), capacity=7)
        assert isinstance(view, RedisAnswerCacheSync)
        assert view.capacity == 7

    def test_the_backend_is_read_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TANDEM_CACHE_BACKEND", "memory")
        assert CommonSettings().cache_backend == "memory"
        monkeypatch.setenv("TANDEM_CACHE_BACKEND", "memcached")
        with pytest.raises(ValueError, match="cache_backend"):
            CommonSettings()
