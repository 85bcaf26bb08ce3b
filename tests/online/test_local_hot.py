"""The replica's own copy of recent answers (issue 27 item 5): bounded by count, by age."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.cache.codec import CacheScope
from online.cache.local_hot import LocalHotAnswers
from shared_schemas.cache import CacheEntry

pytestmark = pytest.mark.unit

SCOPE = CacheScope(index_version="v1", embedding_model="e", llm_model="m", prompt_version="p")


def _entry(i: int) -> CacheEntry:
    return CacheEntry(
        normalized_key=f"q{i}",
        question=f"q{i}?",
        answer=f"a{i}",
        index_version="v1",
        embedding_model="e",
        llm_model="m",
        prompt_version="p",
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
        origin="live",
    )


def test_the_oldest_goes_first_and_a_recall_keeps_an_entry() -> None:
    now = [0.0]
    local = LocalHotAnswers(3, max_age_s=100, clock=lambda: now[0])
    for i in range(3):
        local.remember(SCOPE, f"h{i}", _entry(i))
    assert local.recall(SCOPE, "h0") is not None  # h0 is now the newest
    local.remember(SCOPE, "h3", _entry(3))
    assert len(local) == 3
    assert local.recall(SCOPE, "h1") is None  # the least recently used went
    assert local.recall(SCOPE, "h0") is not None
    other = CacheScope(index_version="v2", embedding_model="e", llm_model="m", prompt_version="p")
    assert local.recall(other, "h0") is None  # scopes never cross


def test_a_copy_older_than_the_bound_is_not_served_and_its_age_is_stated() -> None:
    now = [10.0]
    local = LocalHotAnswers(10, max_age_s=30, clock=lambda: now[0])
    local.remember(SCOPE, "h", _entry(1))
    now[0] = 25.0
    found = local.recall(SCOPE, "h")
    assert found is not None
    assert found[0].answer == "a1"
    assert found[1] == 15.0
    now[0] = 41.0
    assert local.recall(SCOPE, "h") is None
    assert len(local) == 0
    off = LocalHotAnswers(0, max_age_s=30)
    off.remember(SCOPE, "h", _entry(1))
    assert off.recall(SCOPE, "h") is None
