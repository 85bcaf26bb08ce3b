"""Conformance suite of the blocking AnswerStore port (batch warm, refine worker)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from core.cache.codec import CacheScope
from core.cache.port import AnswerStore
from shared_schemas.cache import CacheEntry, CitedChunk
from shared_schemas.hashing import question_key_hash

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


class AnswerStoreContract:
    """Subclasses provide a fixture ``store`` giving an empty adapter."""

    def test_is_an_answer_store(self, store: AnswerStore) -> None:
        assert isinstance(store, AnswerStore)

    def test_put_then_get_returns_the_same_entry(self, store: AnswerStore) -> None:
        e = entry("Who won Super Bowl 50?")
        key = store.put(e, np.ones(4, dtype=np.float32), ttl_s=600)
        assert key == SCOPE.key(e.normalized_key)
        assert store.get(SCOPE, e.normalized_key) == e

    def test_lookup_is_by_normalised_question(self, store: AnswerStore) -> None:
        e = entry("Who won Super Bowl 50?")
        store.put(e, ttl_s=600)
        assert store.get(SCOPE, question_key_hash("who won super bowl 50")) == e
        assert store.get(SCOPE, question_key_hash("Who won Super Bowl 49?")) is None

    def test_scopes_never_cross(self, store: AnswerStore) -> None:
        e = entry("q one")
        store.put(e, ttl_s=600)
        assert store.get(OTHER, e.normalized_key) is None
        ns = CacheScope(SCOPE.index_version, "emb", "llm", "p1", namespace="b")
        assert store.get(ns, e.normalized_key) is None

    def test_put_replaces(self, store: AnswerStore) -> None:
        store.put(entry("q", answer="first"), ttl_s=600)
        store.put(entry("q", answer="second"), ttl_s=600)
        got = store.get(SCOPE, question_key_hash("q"))
        assert got is not None
        assert got.answer == "second"

    def test_purge_one_scope_then_all(self, store: AnswerStore) -> None:
        store.put(entry("a"), np.ones(4, dtype=np.float32), ttl_s=600)
        store.put(entry("b", OTHER), np.ones(4, dtype=np.float32), ttl_s=600)
        assert store.purge(SCOPE) >= 1
        assert store.get(SCOPE, question_key_hash("a")) is None
        assert store.get(OTHER, question_key_hash("b")) is not None
        assert store.purge() >= 1
        assert store.get(OTHER, question_key_hash("b")) is None
        assert store.purge() == 0
