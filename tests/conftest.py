"""Shared fixtures: isolated data dir and settings, a real Redis connection."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Tests use their own Redis database so a developer's data in db 0 is never touched.
TEST_REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SHARED_SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-dev-v1.1.json.gz"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "var"
    monkeypatch.setenv("TANDEM_DATA_DIR", str(d))
    monkeypatch.setenv("TANDEM_REDIS_URL", TEST_REDIS_URL)
    return d


@pytest.fixture
def redis_client() -> Iterator[object]:
    """A real Redis client on the test database, flushed before and after."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.ping()  # fails loudly: the test command starts Redis when none runs
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test reads settings anew from its environment (``get_settings`` is cached)."""
    from batch.settings import get_settings as batch_settings
    from online.settings import get_settings as online_settings

    batch_settings.cache_clear()
    online_settings.cache_clear()
    yield
    batch_settings.cache_clear()
    online_settings.cache_clear()
