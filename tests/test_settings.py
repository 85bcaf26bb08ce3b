from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from batch.settings import BatchSettings
from online.settings import OnlineSettings
from shared_schemas.config import project_root


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TANDEM_DATA_DIR", "TANDEM_REDIS_URL", "TANDEM_TOP_K"):
        monkeypatch.delenv(var, raising=False)
    s = BatchSettings()
    assert s.data_dir == project_root() / "var"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert OnlineSettings().top_k == 5


def test_env_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TANDEM_REDIS_URL", "redis://10.0.0.1:6380/2")
    monkeypatch.setenv("TANDEM_TOP_K", "9")
    monkeypatch.setenv("TANDEM_CHUNK_TOKENS", "128")
    b, o = BatchSettings(), OnlineSettings()
    assert b.data_dir == tmp_path
    assert o.data_dir == tmp_path
    assert b.redis_url == o.redis_url == "redis://10.0.0.1:6380/2"
    assert o.top_k == 9
    assert b.chunk_tokens == 128
    assert b.indexes_dir == tmp_path / "indexes"


def test_explicit_arguments_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_TOP_K", "9")
    assert OnlineSettings(top_k=3).top_k == 3


def test_unsafe_values_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_REDIS_URL", "http://nope")
    with pytest.raises(ValidationError, match="redis_url"):
        OnlineSettings()
    monkeypatch.delenv("TANDEM_REDIS_URL")
    with pytest.raises(ValidationError, match="chunk_overlap"):
        BatchSettings(chunk_tokens=50, chunk_overlap=50)
    monkeypatch.setenv("TANDEM_TOP_K", "0")
    with pytest.raises(ValidationError):
        OnlineSettings()


def test_batch_sections_read_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_FRESHNESS__INTERVAL_MIN", "5")
    monkeypatch.setenv("TANDEM_FRESHNESS__MIN_HOT_CACHE_COVERAGE", "0.8")
    monkeypatch.setenv("TANDEM_ALERTS__WEBHOOK_URL", "http://hooks.example/x")
    monkeypatch.setenv("TANDEM_ALERTS__TIMEOUT_S", "2.5")
    s = BatchSettings()
    assert (s.freshness.interval_min, s.freshness.min_hot_cache_coverage) == (5, 0.8)
    assert s.freshness.max_index_age_h == 36.0
    assert (s.alerts.webhook_url, s.alerts.timeout_s) == ("http://hooks.example/x", 2.5)


def test_batch_orchestration_fields_are_flat(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TANDEM_EMBED_MODE", "spark_submit")
    monkeypatch.setenv("TANDEM_DAG_RETRIES", "4")
    monkeypatch.setenv("TANDEM_INDEX_SOURCE", str(tmp_path))
    s = BatchSettings()
    assert (s.embed_mode, s.dag_retries, s.index_source) == ("spark_submit", 4, tmp_path)
    assert not hasattr(s, "kube_context")  # release settings live in ReleaseSettings


def test_openai_backend_needs_its_url_by_type(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared_schemas.config import LocalLLMConfig, OpenAILLMConfig

    monkeypatch.setenv("TANDEM_LLM_BACKEND", "openai")
    with pytest.raises(ValidationError, match="needs TANDEM_LLM_URL"):
        BatchSettings()
    monkeypatch.setenv("TANDEM_LLM_URL", "http://127.0.0.1:8081/v1")
    config = BatchSettings().llm_config()
    assert isinstance(config, OpenAILLMConfig)
    assert config.url == "http://127.0.0.1:8081/v1"
    monkeypatch.setenv("TANDEM_LLM_BACKEND", "local")
    assert isinstance(BatchSettings().llm_config(), LocalLLMConfig)
    with pytest.raises(ValidationError, match="url"):
        OpenAILLMConfig(model_id="m", url="ftp://x")


def test_batch_sections_refuse_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_FRESHNESS__INTERVAL_MIN", "0")
    with pytest.raises(ValidationError, match=r"freshness\.interval_min"):
        BatchSettings()
    monkeypatch.delenv("TANDEM_FRESHNESS__INTERVAL_MIN")
    monkeypatch.setenv("TANDEM_ALERTS__WEBHOK_URL", "http://typo")  # a typo is refused, not ignored
    with pytest.raises(ValidationError, match=r"alerts\.webhok_url"):
        BatchSettings()
    monkeypatch.delenv("TANDEM_ALERTS__WEBHOK_URL")
    monkeypatch.setenv("TANDEM_EMBED_MODE", "yarn")
    with pytest.raises(ValidationError, match="embed_mode"):
        BatchSettings()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TANDEM_FRESHNESS_INTERVAL_MIN", "TANDEM_FRESHNESS__INTERVAL_MIN"),
        ("TANDEM_ALERT_WEBHOOK_URL", "TANDEM_ALERTS__WEBHOOK_URL"),
    ],
)
def test_renamed_variables_are_refused_naming_the_new_one(
    monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    monkeypatch.setenv(old, "5")
    with pytest.raises(ValidationError, match=f"{old} -> {new}"):
        BatchSettings()


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    from batch.settings import get_settings

    monkeypatch.setenv("TANDEM_DAG_RETRIES", "3")
    first = get_settings()
    monkeypatch.setenv("TANDEM_DAG_RETRIES", "5")
    assert get_settings() is first
    assert first.dag_retries == 3
    get_settings.cache_clear()
    assert get_settings().dag_retries == 5
