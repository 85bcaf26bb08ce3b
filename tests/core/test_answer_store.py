"""The answer-store adapters (in-memory, Redis) against the port's conformance suite."""

from __future__ import annotations

from typing import Any

import pytest

from core.cache.memory import InMemoryAnswerStore
from core.cache.redis_store import RedisAnswerCache
from tests.core.answer_store_suite import SCOPE, AnswerStoreContract, entry


@pytest.mark.unit
class TestInMemoryAnswerStore(AnswerStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryAnswerStore:
        return InMemoryAnswerStore()

    def test_entries_expire_with_their_ttl(self) -> None:
        now = [100.0]
        store = InMemoryAnswerStore(clock=lambda: now[0])
        e = entry("q")
        store.put(e, ttl_s=10)
        now[0] = 109.9
        assert store.get(SCOPE, e.normalized_key) == e
        now[0] = 110.0
        assert store.get(SCOPE, e.normalized_key) is None


@pytest.mark.integration
class TestRedisAnswerStore(AnswerStoreContract):
    @pytest.fixture
    def store(self, redis_client: Any) -> RedisAnswerCache:
        return RedisAnswerCache(redis_client)

    def test_ttl_is_set_on_the_key(self, store: RedisAnswerCache, redis_client: Any) -> None:
        key = store.put(entry("q"), ttl_s=600)
        assert 0 < redis_client.ttl(key) <= 600
