"""Shared fixtures: isolated data dir and settings, a real Redis connection."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One ONNX export of the bundled encoder (the default backend) for the whole suite, and for the
# services and Spark workers it starts, instead of one per test's data dir.
ENCODER_CACHE = Path(tempfile.gettempdir()) / "tandem-test-encoders"
os.environ.setdefault("TANDEM_ENCODER_CACHE_DIR", str(ENCODER_CACHE))
# Tests that need a real model run the tiny bundled one in both tiers (the defaults, Qwen 0.5B
# and 1.5B, are measured by `tandem eval --tier`, bench/ and `make demo`).
os.environ.setdefault("TANDEM_LLM_MODEL", "SmolLM2-135M-Instruct-Q4_1")
os.environ.setdefault("TANDEM_DEEP_LLM_MODEL", "SmolLM2-135M-Instruct-Q4_1")
# ... with the prompt its answer references were measured with (batch/reference_figures.json)
os.environ.setdefault("TANDEM_PROMPT_VERSION", "p4")
# no paraphrase expansion at warm unless a test asks for it (tests/batch/test_hot_answers.py)
os.environ.setdefault("TANDEM_WARM_PARAPHRASES", "0")
# an experiment needs a secret salt (online/settings.py); one random salt for the session
os.environ.setdefault("TANDEM_EXPERIMENT_SALT", os.urandom(16).hex())

# Tests use their own Redis database so a developer's data in db 0 is never touched.
TEST_REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CORPUS_CACHE = Path(tempfile.gettempdir()) / "tandem-test-corpus"


@functools.cache
def squad_path() -> Path:
    """The SQuAD v1.1 dev file: ../shared/data, else a verified download cached under the temp
    dir. A test that needs it fails (never skips) when neither can be had."""
    from batch.corpus import CorpusError, locate_demo_corpus

    try:
        return locate_demo_corpus(None, data_dir=CORPUS_CACHE)
    except CorpusError as exc:
        pytest.fail(f"SQuAD dev set unavailable: {exc}")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "var"
    monkeypatch.setenv("TANDEM_DATA_DIR", str(d))
    monkeypatch.setenv("TANDEM_REDIS_URL", TEST_REDIS_URL)
    return d


@pytest.fixture
def redis_client() -> Iterator[object]:
    """A real Redis client on the test database (one node, or the cluster that
    ``make test-redis-cluster`` starts: TANDEM_TEST_REDIS_URL), flushed before and after."""
    from core.redis_clients import sync_redis

    client = sync_redis(TEST_REDIS_URL)
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
    from tandem_cli.release.settings import get_release_settings

    caches = (batch_settings, online_settings, get_release_settings)
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()
