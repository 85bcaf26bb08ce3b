"""``tandem cache explain``: the exact entry, the nearest cached questions with the semantic
path's verdict on each, the judge's recorded verdict, and what the service would do (issue 24
item 3: the rule and its evidence inspectable)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.cache.codec import CacheScope
from core.cache.redis_sync import RedisAnswerCacheSync
from online.refine.judging import judged_marker
from online.settings import OnlineSettings
from shared_schemas.cache import CacheEntry
from shared_schemas.hashing import question_key_hash
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration

CACHED = "Who won Super Bowl 50?"
REWORDED = "Which team won Super Bowl 50?"
DIFFERENT = "Who won Super Bowl 49?"


def _explain(question: str) -> dict[str, Any]:
    from tandem_cli.main import app

    done = CliRunner().invoke(app, ["cache", "explain", question, "--json"])
    assert done.exit_code == 0, done.output
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_explain_shows_the_entry_the_nearest_questions_and_the_decision(
    data_root: Path,
    built_indexes: dict[str, Any],
    encoder: Any,
    redis_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANDEM_DATA_DIR", str(data_root))
    monkeypatch.setenv("TANDEM_REDIS_URL", TEST_REDIS_URL)
    settings = OnlineSettings()
    scope = CacheScope(
        built_indexes["v1"], settings.embedding_model, settings.llm_model, settings.prompt_version
    )
    entry = CacheEntry(
        question=CACHED,
        normalized_key=question_key_hash(CACHED),
        answer="The Denver Broncos",
        index_version=scope.index_version,
        embedding_model=scope.embedding_model,
        llm_model=scope.llm_model,
        prompt_version=scope.prompt_version,
        created_at=datetime.now(UTC),
        origin="batch",
        tier="deep",
    )
    RedisAnswerCacheSync(redis_client).put(entry, encoder.encode([CACHED])[0], ttl_s=600)

    exact = _explain(CACHED)
    assert exact["decision"] == "exact hit"
    assert exact["exact"]["tier"] == "deep"
    assert 0 < exact["exact"]["ttl_s"] <= 600

    # a reworded question: no exact entry, the cached one is its nearest, with the verdict
    redis_client.set(
        judged_marker(scope, question_key_hash(REWORDED), entry.normalized_key), "same 0.9712"
    )
    reworded = _explain(REWORDED)
    assert reworded["exact"] is None
    [nearest, *_] = reworded["candidates"]
    assert nearest["question"] == CACHED
    assert 0.5 < nearest["cosine"] < 1.0
    assert nearest["reason"]  # the check that decided, or "accepted"
    assert nearest["judged"] == "same 0.9712"
    assert reworded["decision"] in (f"semantic hit on {CACHED!r}", "miss")
    # a different question on the same topic: the verifier says why not
    different = _explain(DIFFERENT)
    assert different["exact"] is None
    assert not different["candidates"][0]["accepted"]
    assert different["decision"] == "miss"
