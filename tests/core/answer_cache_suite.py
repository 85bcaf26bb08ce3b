"""Conformance suite of the answer-cache port (``core.cache.port``): the async ``AnswerCache``
(exact and semantic sides) and its blocking view ``AnswerCacheSync`` over the same storage."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import pytest

from core.cache.codec import CacheScope
from core.cache.port import AnswerCache, AnswerCacheSync
from shared_schemas.cache import CacheEntry, CitedChunk
from shared_schemas.hashing import question_key_hash

T = TypeVar("T")

SCOPE = CacheScope("20240101-aaaaaaaa", "emb", "llm", "p1")
OTHER = CacheScope("20240102-bbbbbbbb", "emb", "llm", "p1")


def entry(question: str, scope: CacheScope = SCOPE, answer: str = "an answer") -> CacheEntry:
    return CacheEntry(
        question=question,
        normalized_key=question_key_hash(question),
        answer=answer,
        cited=(CitedChunk(chunk_id="c1", doc_id="d1", content_hash="h1", score=0.5),),
        index_version=scope.index_version,
        embedding_model=scope.embedding_model,
        llm_model=scope.llm_model,
        prompt_version=scope.prompt_version,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        origin="batch",
        namespace=scope.namespace,
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def basis(i: int, dimension: int = 8) -> np.ndarray:
    return np.eye(dimension, dtype=np.float32)[i]


class AnswerCacheContract:
    """Subclasses provide ``make_cache``: a coroutine function giving an empty adapter of the
    port holding at most ``capacity`` answers per scope, run in the event loop each test uses
    (async clients are bound to their loop); ``make_sync``: the blocking view over the same
    storage; and ``expire``: make every entry's time come, as if its TTL passed."""

    async def make_cache(self, *, capacity: int = 1000) -> AnswerCache:
        raise NotImplementedError

    def make_sync(self, *, capacity: int = 1000) -> AnswerCacheSync:
        raise NotImplementedError

    def expire(self) -> None:
        raise NotImplementedError

    # ----- the port (async) -----
    def test_is_an_answer_cache(self) -> None:
        async def go() -> None:
            assert isinstance(await self.make_cache(), AnswerCache)

        run(go())

    def test_exact_round_trip_and_scopes(self) -> None:
        async def go() -> None:
            cache = await self.make_cache()
            e = entry("Who won Super Bowl 50?")
            await cache.put(e, unit(1, 0, 0, 0), ttl_s=600)
            assert await cache.get_exact(SCOPE, e.normalized_key) == e
            assert await cache.get_exact(OTHER, e.normalized_key) is None
            assert await cache.get_exact(SCOPE, "0" * 32) is None

        run(go())

    def test_semantic_needs_the_threshold(self) -> None:
        async def go() -> None:
            cache = await self.make_cache()
            e = entry("Who won the Super Bowl?")
            await cache.put(e, unit(1, 0, 0, 0), ttl_s=600)
            near = unit(0.99, 0.1, 0, 0)
            hit = await cache.get_semantic(SCOPE, "who won the Super Bowl", near, threshold=0.9)
            assert hit is not None
            assert hit.entry == e
            assert 0.9 <= hit.similarity <= 1.0001
            far = unit(0, 1, 0, 0)
            assert await cache.get_semantic(SCOPE, "Who won?", far, threshold=0.9) is None
            assert await cache.get_semantic(OTHER, "Who won?", near, threshold=0.9) is None

        run(go())

    def test_semantic_refuses_different_numbers(self) -> None:
        async def go() -> None:
            cache = await self.make_cache()
            await cache.put(entry("Who won Super Bowl 50?"), unit(1, 0, 0, 0), ttl_s=600)
            same = unit(1, 0, 0, 0)
            assert (
                await cache.get_semantic(SCOPE, "Who won Super Bowl 49?", same, threshold=0.5)
                is None
            )
            assert await cache.get_semantic(SCOPE, "who won Super Bowl 50", same, threshold=0.5)

        run(go())

    def test_an_entry_without_vector_is_exact_only(self) -> None:
        async def go() -> None:
            cache = await self.make_cache()
            e = entry("q without vector")
            await cache.put(e, None, ttl_s=600)
            assert await cache.get_exact(SCOPE, e.normalized_key) == e
            assert await cache.get_semantic(SCOPE, e.question, unit(1, 0), threshold=0.0) is None

        run(go())

    def test_purge(self) -> None:
        async def go() -> None:
            cache = await self.make_cache()
            a, b = entry("a"), entry("b", OTHER)
            await cache.put(a, unit(1, 0), ttl_s=600)
            await cache.put(b, unit(1, 0), ttl_s=600)
            assert await cache.purge(SCOPE) >= 1
            assert await cache.get_exact(SCOPE, a.normalized_key) is None
            assert await cache.get_exact(OTHER, b.normalized_key) == b
            assert await cache.get_semantic(SCOPE, "a", unit(1, 0), threshold=0.5) is None
            assert await cache.purge() >= 1
            assert await cache.get_exact(OTHER, b.normalized_key) is None

        run(go())

    def test_purge_version_takes_every_scope_of_that_version_only(self) -> None:
        async def go() -> None:
            cache = await self.make_cache()
            arm = CacheScope(SCOPE.index_version, "emb", "other-llm", "p2", namespace="arm-b")
            kept = entry("b", OTHER)
            for e in (entry("a"), entry("a", arm), kept):
                await cache.put(e, unit(1, 0), ttl_s=600)
            assert await cache.purge_version(SCOPE.index_version) >= 2
            assert await cache.get_exact(SCOPE, question_key_hash("a")) is None
            assert await cache.get_exact(arm, question_key_hash("a")) is None
            assert await cache.get_semantic(arm, "a", unit(1, 0), threshold=0.5) is None
            assert await cache.get_exact(OTHER, kept.normalized_key) == kept
            assert await cache.purge_version(SCOPE.index_version) == 0
            with pytest.raises(ValueError, match="not an index version"):
                await cache.purge_version("2024*")

        run(go())

    def test_a_scope_holds_at_most_its_capacity(self) -> None:
        async def go() -> None:
            cache = await self.make_cache(capacity=3)
            elsewhere = entry("kept elsewhere", OTHER)
            await cache.put(elsewhere, basis(7), ttl_s=600)
            es = [entry(f"question {i}") for i in range(6)]
            for i, e in enumerate(es):
                await cache.put(e, basis(i), ttl_s=600)
            for i, e in enumerate(es[:3]):
                assert await cache.get_exact(SCOPE, e.normalized_key) is None
                assert await cache.get_semantic(SCOPE, e.question, basis(i), threshold=0.9) is None
            for i, e in enumerate(es[3:], start=3):
                assert await cache.get_exact(SCOPE, e.normalized_key) == e
                hit = await cache.get_semantic(SCOPE, e.question, basis(i), threshold=0.9)
                assert hit is not None
                assert hit.entry == e
            assert await cache.get_exact(OTHER, elsewhere.normalized_key) == elsewhere

        run(go())

    def test_eviction_takes_the_least_recently_used(self) -> None:
        async def go() -> None:
            cache = await self.make_cache(capacity=3)
            a, b, c, d = (entry(f"question {n}") for n in "abcd")
            for i, e in enumerate((a, b, c)):
                await cache.put(e, basis(i), ttl_s=600)
            assert await cache.get_exact(SCOPE, a.normalized_key) == a  # a read is a use
            await cache.put(d, basis(3), ttl_s=600)
            assert await cache.get_exact(SCOPE, b.normalized_key) is None
            for e in (a, c, d):
                assert await cache.get_exact(SCOPE, e.normalized_key) == e

        run(go())

    def test_a_semantic_hit_is_a_use(self) -> None:
        async def go() -> None:
            cache = await self.make_cache(capacity=3)
            a, b, c, d = (entry(f"question {n}") for n in "abcd")
            for i, e in enumerate((a, b, c)):
                await cache.put(e, basis(i), ttl_s=600)
            assert await cache.get_semantic(SCOPE, a.question, basis(0), threshold=0.9)
            await cache.put(d, basis(3), ttl_s=600)
            assert await cache.get_exact(SCOPE, b.normalized_key) is None
            assert await cache.get_exact(SCOPE, a.normalized_key) == a

        run(go())

    def test_a_vector_expires_with_its_answer(self) -> None:
        async def go() -> None:
            cache = await self.make_cache(capacity=3)
            a = entry("question a")
            await cache.put(a, basis(0), ttl_s=600)
            self.expire()
            fresh = [entry(f"question {n}") for n in "bcd"]
            for i, e in enumerate(fresh, start=1):
                await cache.put(e, basis(i), ttl_s=600)
            assert await cache.get_exact(SCOPE, a.normalized_key) is None
            assert await cache.get_semantic(SCOPE, a.question, basis(0), threshold=0.5) is None
            for e in fresh:  # the expired answer took no room: nothing else was evicted
                assert await cache.get_exact(SCOPE, e.normalized_key) == e

        run(go())

    # ----- the blocking view -----
    def test_is_a_blocking_view(self) -> None:
        assert isinstance(self.make_sync(), AnswerCacheSync)

    def test_view_put_then_get_returns_the_same_entry(self) -> None:
        view = self.make_sync()
        e = entry("Who won Super Bowl 50?")
        key = view.put(e, np.ones(4, dtype=np.float32), ttl_s=600)
        assert key == SCOPE.key(e.normalized_key)
        assert view.get_exact(SCOPE, e.normalized_key) == e

    def test_view_lookup_is_by_normalised_question(self) -> None:
        view = self.make_sync()
        e = entry("Who won Super Bowl 50?")
        view.put(e, ttl_s=600)
        assert view.get_exact(SCOPE, question_key_hash("who won super bowl 50")) == e
        assert view.get_exact(SCOPE, question_key_hash("Who won Super Bowl 49?")) is None

    def test_view_scopes_never_cross(self) -> None:
        view = self.make_sync()
        e = entry("q one")
        view.put(e, ttl_s=600)
        assert view.get_exact(OTHER, e.normalized_key) is None
        ns = CacheScope(SCOPE.index_version, "emb", "llm", "p1", namespace="b")
        assert view.get_exact(ns, e.normalized_key) is None

    def test_view_put_replaces(self) -> None:
        view = self.make_sync()
        view.put(entry("q", answer="first"), ttl_s=600)
        view.put(entry("q", answer="second"), ttl_s=600)
        got = view.get_exact(SCOPE, question_key_hash("q"))
        assert got is not None
        assert got.answer == "second"

    def test_view_purge_version(self) -> None:
        view = self.make_sync()
        arm = CacheScope(SCOPE.index_version, "emb", "other-llm", "p2", namespace="arm-b")
        view.put(entry("a"), np.ones(4, dtype=np.float32), ttl_s=600)
        view.put(entry("a", arm), np.ones(4, dtype=np.float32), ttl_s=600)
        view.put(entry("b", OTHER), np.ones(4, dtype=np.float32), ttl_s=600)
        assert view.purge_version(SCOPE.index_version) >= 2
        assert view.get_exact(arm, question_key_hash("a")) is None
        assert view.get_exact(OTHER, question_key_hash("b")) is not None

    def test_view_purge_one_scope_then_all(self) -> None:
        view = self.make_sync()
        view.put(entry("a"), np.ones(4, dtype=np.float32), ttl_s=600)
        view.put(entry("b", OTHER), np.ones(4, dtype=np.float32), ttl_s=600)
        assert view.purge(SCOPE) >= 1
        assert view.get_exact(SCOPE, question_key_hash("a")) is None
        assert view.get_exact(OTHER, question_key_hash("b")) is not None
        assert view.purge() >= 1
        assert view.get_exact(OTHER, question_key_hash("b")) is None
        assert view.purge() == 0

    # ----- both faces, one storage -----
    def test_the_port_finds_what_the_view_wrote(self) -> None:
        e = entry("warmed offline")
        self.make_sync().put(e, unit(1, 0, 0, 0), ttl_s=60)

        async def go() -> None:
            cache = await self.make_cache()
            assert await cache.get_exact(SCOPE, e.normalized_key) == e
            hit = await cache.get_semantic(SCOPE, e.question, unit(1, 0, 0, 0), threshold=0.9)
            assert hit is not None
            assert hit.entry == e

        run(go())

    def test_the_view_finds_what_the_port_wrote(self) -> None:
        e = entry("answered live")

        async def go() -> None:
            await (await self.make_cache()).put(e, unit(1, 0), ttl_s=60)

        run(go())
        assert self.make_sync().get_exact(SCOPE, e.normalized_key) == e
