"""The DAG steps of ``batch.orchestration`` without Airflow: labelled-set detection, publish."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from batch.orchestration import OrchestrationError, publish_step, resolve_labelled
from batch.settings import BatchSettings, get_settings
from core.index import read_live_version
from shared_schemas.layout import LIVE_MANIFEST_KEY
from shared_schemas.manifest import IndexManifest
from tests.dags.fake_index import write_snapshot, write_version

D0 = date(2026, 2, 28)
D1 = date(2026, 3, 1)


def test_default_labelled_set_is_a_squad_source_only(tmp_path: Path) -> None:
    settings = BatchSettings(data_dir=tmp_path, labelled_set=None)
    squad_gz = tmp_path / "dev-v1.1.json.gz"
    squad_gz.write_bytes(gzip.compress(b'{"data": []}'))
    squad = tmp_path / "dev.json"
    squad.write_text('{"data": []}')
    assert resolve_labelled(None, source=squad_gz, settings=settings) == squad_gz
    assert resolve_labelled(None, source=squad, settings=settings) == squad
    for name in ("docs.jsonl.gz", "docs.jsonl", "docs.ndjson"):
        jsonl = tmp_path / name
        jsonl.write_bytes(b"")
        with pytest.raises(OrchestrationError, match="not SQuAD"):
            resolve_labelled(None, source=jsonl, settings=settings)
    with pytest.raises(OrchestrationError, match="not SQuAD"):
        resolve_labelled(None, source=tmp_path, settings=settings)  # a folder source


def _live_in_redis(client: Any) -> str:
    return IndexManifest.parse(client.get(LIVE_MANIFEST_KEY)).index_version


@pytest.mark.integration
def test_publish_step_same_date_rebuild_older_date_and_redis_retry(
    data_dir: Path, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = get_settings()  # what publish_step reads: the data_dir fixture's environment
    write_snapshot(s, D1, {"a": "Alpha text one."})
    first = write_version(s, D1)
    assert publish_step(first)["published"] is True
    assert _live_in_redis(redis_client) == first

    # a same-date rebuild with other content replaces it
    write_snapshot(s, D1, {"a": "Alpha text one.", "b": "Beta text two."})
    rebuilt = write_version(s, D1)
    assert rebuilt[:8] == first[:8]
    assert rebuilt != first
    out = publish_step(rebuilt)
    assert (out["published"], out["moved"], out["live"]) == (True, True, rebuilt)
    assert read_live_version(s.indexes_dir) == rebuilt

    # a backfill of an earlier date never rolls the live index back
    write_snapshot(s, D0, {"z": "Older text."})
    older = write_version(s, D0)
    assert publish_step(older) == {"version": older, "published": False, "live": rebuilt}
    assert read_live_version(s.indexes_dir) == rebuilt

    # Redis down: the task fails (Airflow retries) ...
    redis_client.delete(LIVE_MANIFEST_KEY)
    monkeypatch.setenv("TANDEM_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    with pytest.raises(OrchestrationError, match="Redis was not updated"):
        publish_step(rebuilt)
    # ... and the retry of the same version re-notifies Redis without moving the pointer
    monkeypatch.setenv("TANDEM_REDIS_URL", s.redis_url)
    get_settings.cache_clear()
    out = publish_step(rebuilt)
    assert (out["published"], out["moved"]) == (True, False)
    assert _live_in_redis(redis_client) == rebuilt
