"""``tandem cache purge --version V``: every arm's answers of that version go (the default
arm's only, before), other versions stay; a name that is not a version is a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from core.cache.codec import CacheScope
from core.cache.redis_sync import RedisAnswerCacheSync
from shared_schemas.hashing import question_key_hash
from tandem_cli.main import app
from tests.conftest import TEST_REDIS_URL
from tests.core.answer_cache_suite import entry

pytestmark = pytest.mark.integration

V, W = "20240101-aaaaaaaa", "20240102-bbbbbbbb"


def _put(cache: RedisAnswerCacheSync, scope: CacheScope, question: str) -> None:
    cache.put(entry(question, scope), np.ones(4, dtype=np.float32), ttl_s=600)


def test_purge_version_clears_every_arm_of_that_version_only(
    redis_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path))
    cache = RedisAnswerCacheSync(redis_client)
    default_arm = CacheScope(V, "emb", "llm-a", "p7")
    other_arm = CacheScope(V, "emb", "llm-b", "p8", namespace="arm-b")
    kept = CacheScope(W, "emb", "llm-a", "p7")
    for scope in (default_arm, other_arm, kept):
        _put(cache, scope, "Who won?")

    done = CliRunner().invoke(app, ["cache", "purge", "--version", V, "--yes"])
    assert done.exit_code == 0, done.output
    assert cache.get_exact(default_arm, question_key_hash("Who won?")) is None
    assert cache.get_exact(other_arm, question_key_hash("Who won?")) is None
    assert cache.get_exact(kept, question_key_hash("Who won?")) is not None

    refused = CliRunner().invoke(app, ["cache", "purge", "--version", "2024*", "--yes"])
    assert refused.exit_code == 1
    assert "not an index version" in refused.output
    assert cache.get_exact(kept, question_key_hash("Who won?")) is not None
