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
    assert b.data_dir == tmp_path and o.data_dir == tmp_path
    assert b.redis_url == o.redis_url == "redis://10.0.0.1:6380/2"
    assert o.top_k == 9 and b.chunk_tokens == 128
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
