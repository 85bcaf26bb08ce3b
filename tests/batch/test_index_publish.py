"""Build, gate, publish, roll back and retain index versions on a small SQuAD slice."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from batch.index import IndexBuildError, PublishError, store
from batch.index.build import build_index
from batch.index.gate import check_gate, decide
from batch.index.publish import list_versions, publish_version, rollback_version
from batch.labelled import SquadParagraph, iter_squad_paragraphs, read_squad
from batch.settings import BatchSettings
from core.index import IndexLoadError, load_index, read_live_version
from core.index.version import IndexVersion
from core.index.writer import choose_factory, write_index_version
from shared_schemas.documents import Chunk
from shared_schemas.layout import LIVE_CHANNEL, LIVE_MANIFEST_KEY, MANIFEST_FILE
from shared_schemas.manifest import IndexManifest
from tests.batch.conftest import squad_path
from tests.conftest import TEST_REDIS_URL

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLS = ["chunk_id", "doc_id", "title", "text", "content_hash"]


@pytest.fixture(scope="module")
def corpus() -> tuple[pa.Table, np.ndarray, list[SquadParagraph]]:
    from core.encoder import get_encoder

    paras = list(iter_squad_paragraphs(read_squad(squad_path())))[:30]
    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paras]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in COLS})
    return table, get_encoder().encode([c.text for c in chunks]), paras


@pytest.fixture
def settings(data_dir: Path) -> BatchSettings:
    return BatchSettings(data_dir=data_dir, redis_url=TEST_REDIS_URL, keep_versions=2)


def _build(settings: BatchSettings, corpus: Any, rows: int, day: int = 1) -> IndexManifest:
    table, vecs, _ = corpus
    return write_index_version(
        table.slice(0, rows),
        vecs[:rows],
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot=f"2024-01-{day:02d}",
        run_date=date(2024, 1, day),
    )


def _labelled(tmp_path: Path, corpus: Any, rows: int = 30) -> Path:
    _, _, paras = corpus
    path = tmp_path / "gold.jsonl"
    with path.open("w") as fh:
        for p in paras[:rows]:
            fh.write(
                json.dumps({"question": p.questions[0], "relevant_doc_ids": [p.doc_id]}) + "\n"
            )
    return path


def test_factory_choice() -> None:
    assert choose_factory(1000, exact_max=200_000) == "Flat"
    assert choose_factory(1_000_000, exact_max=200_000).startswith("IVF")
    assert choose_factory(10, exact_max=5, override="HNSW32,Flat") == "HNSW32,Flat"


def test_build_is_idempotent_and_staging_is_clean(settings: BatchSettings, corpus: Any) -> None:
    m1 = _build(settings, corpus, 30)
    m2 = _build(settings, corpus, 30)
    assert m1 == m2
    assert m1.index_version == IndexVersion.of("2024-01-01", m1.chunk_set_digest).name
    ids = sorted(corpus[0].column("chunk_id").to_pylist())
    assert m1.chunk_set_digest == store.chunk_set_digest(ids)
    staging = settings.indexes_dir / store.STAGING_DIR
    assert not any(staging.iterdir())
    for art in m1.artifacts:
        from core.index import sha256_file

        assert sha256_file(settings.indexes_dir / m1.index_version / art.path) == art.sha256


def test_failed_build_leaves_no_version(
    settings: BatchSettings, corpus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.index.writer as build_mod

    def boom(*a: Any, **k: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(build_mod, "build_bm25", boom)
    with pytest.raises(OSError, match="disk full"):
        _build(settings, corpus, 10)
    assert store.version_dirs(settings.indexes_dir) == []
    assert not any((settings.indexes_dir / store.STAGING_DIR).iterdir())


def test_build_index_reads_snapshot_and_embedding_store(
    settings: BatchSettings, corpus: Any
) -> None:
    import pyarrow.parquet as pq

    from batch.embed.store import EmbeddingStore

    table, vecs, _ = corpus
    snap = settings.snapshots_dir / "2024-02-03"
    snap.mkdir(parents=True)
    pq.write_table(table.slice(0, 12), snap / "chunks.parquet")
    with pytest.raises(IndexBuildError, match="embed"):
        build_index(date(2024, 2, 3), settings=settings)
    # the store holds more vectors than the snapshot needs, in another order
    order = list(range(20))[::-1]
    store_table = pa.table(
        {
            "chunk_id": [table.column("chunk_id")[i].as_py() for i in order],
            "vector": pa.array([vecs[i].tolist() for i in order], type=pa.list_(pa.float32())),
        }
    )
    EmbeddingStore(settings=settings).append(store_table, run="t", dimension=vecs.shape[1])
    m = build_index(date(2024, 2, 3), settings=settings)
    assert m.vector_count == 12
    assert m.index_version.startswith("20240203-")
    index = load_index(settings.indexes_dir / m.index_version)
    hit = index.search(vecs[5], "", 1, lexical=False)[0]
    assert hit.chunk_id == table.column("chunk_id")[5].as_py()
    assert hit.score == pytest.approx(1.0, abs=1e-4)


def test_evaluate_on_a_slice(settings: BatchSettings, corpus: Any, tmp_path: Path) -> None:
    from batch.evaluate import EvalError, evaluate

    m = _build(settings, corpus, 30)
    gold = _labelled(tmp_path, corpus)
    with pytest.raises(EvalError, match="no live index"):
        evaluate(gold, settings=settings)
    result = evaluate(gold, settings=settings, version=m.index_version)
    assert result.questions == 30
    assert 0.8 <= result.recall_at_5 <= 1.0
    assert result.recall_at_1 <= result.recall_at_5 <= result.recall_at_10
    assert 0 < result.mrr <= 1
    payload = result.as_json()
    assert {"recall@1", "recall@5", "recall@10", "mrr", "questions"} <= payload.keys()


def test_gate_rule() -> None:
    assert decide(0.4, floor=0.5, tolerance=0.02, live_recall5=None)[0] is False
    assert decide(0.9, floor=0.5, tolerance=0.02, live_recall5=None)[0] is True
    assert decide(0.9, floor=0.5, tolerance=0.02, live_recall5=0.95)[0] is False
    assert decide(0.94, floor=0.5, tolerance=0.02, live_recall5=0.95)[0] is True


def test_gate_records_figures_then_publish_and_rollback(
    settings: BatchSettings, corpus: Any, tmp_path: Path, redis_client: Any
) -> None:
    gold = _labelled(tmp_path, corpus)
    good = _build(settings, corpus, 30, day=1)
    decision = check_gate(good.index_version, settings=settings, labelled=gold)
    assert decision.passed
    assert decision.recorded
    gated = store.load_manifest(settings.indexes_dir, good.index_version)
    assert gated.quality.recall_at_5 == pytest.approx(decision.result.recall_at_5)
    assert gated.quality.gate_passed is True
    load_index(settings.indexes_dir / good.index_version)  # artifacts still verify

    pubsub = redis_client.pubsub()
    pubsub.subscribe(LIVE_CHANNEL)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    publish_version(good.index_version, settings=settings)
    assert read_live_version(settings.indexes_dir) == good.index_version
    live = IndexManifest.parse(redis_client.get(LIVE_MANIFEST_KEY))
    assert live.index_version == good.index_version
    assert live.quality.gate_passed is True
    msg = pubsub.get_message(timeout=2)
    assert msg is not None
    assert msg["data"] == good.index_version.encode()
    pubsub.close()

    # a smaller index misses the gold paragraphs of half the questions: the gate refuses it
    bad = _build(settings, corpus, 15, day=2)
    refused = check_gate(bad.index_version, settings=settings, labelled=gold)
    assert not refused.passed
    assert refused.live_recall_at_5 == pytest.approx(decision.result.recall_at_5)
    with pytest.raises(PublishError, match="quality gate"):
        publish_version(bad.index_version, settings=settings)
    assert read_live_version(settings.indexes_dir) == good.index_version

    forced = publish_version(bad.index_version, settings=settings, force=True)
    assert forced.previous == good.index_version
    assert read_live_version(settings.indexes_dir) == bad.index_version
    back = rollback_version(settings=settings).manifest
    assert back.index_version == good.index_version
    assert read_live_version(settings.indexes_dir) == good.index_version
    assert IndexManifest.parse(redis_client.get(LIVE_MANIFEST_KEY)).index_version == (
        good.index_version
    )
    with pytest.raises(PublishError, match="no version was live before"):
        rollback_version(settings=settings)
    # a live version's manifest is frozen: the gate no longer rewrites it
    before = (settings.indexes_dir / good.index_version / MANIFEST_FILE).read_bytes()
    again = check_gate(good.index_version, settings=settings, labelled=gold)
    assert not again.recorded
    assert (settings.indexes_dir / good.index_version / MANIFEST_FILE).read_bytes() == before


def test_publish_refuses_a_tampered_version(settings: BatchSettings, corpus: Any) -> None:
    m = _build(settings, corpus, 10)
    faiss_file = settings.indexes_dir / m.index_version / "index.faiss"
    data = bytearray(faiss_file.read_bytes())
    data[-1] ^= 0x01
    faiss_file.write_bytes(bytes(data))
    with pytest.raises(PublishError, match="sha256"):
        publish_version(m.index_version, settings=settings)
    assert read_live_version(settings.indexes_dir) is None


def test_crash_during_publish_leaves_live_intact(
    settings: BatchSettings, corpus: Any, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _build(settings, corpus, 30, day=1)
    publish_version(first.index_version, settings=settings)
    second = _build(settings, corpus, 20, day=2)  # built, then the run dies before publish
    assert read_live_version(settings.indexes_dir) == first.index_version

    def crash(src: Any, dst: Any) -> None:
        raise OSError("killed mid-publish")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        publish_version(second.index_version, settings=settings)
    monkeypatch.undo()
    assert read_live_version(settings.indexes_dir) == first.index_version
    # the dead publish never made it live: the gate may still record its figures
    assert second.index_version not in store.ever_live(settings.indexes_dir)
    assert not list(settings.indexes_dir.glob(".LIVE.*"))
    assert IndexManifest.parse(redis_client.get(LIVE_MANIFEST_KEY)).index_version == (
        first.index_version
    )
    served = load_index(settings.indexes_dir / first.index_version)  # still verifies
    assert served.manifest.index_version == first.index_version


def test_redis_down_still_moves_the_pointer(
    data_dir: Path, corpus: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = BatchSettings(data_dir=data_dir, redis_url="redis://127.0.0.1:1/0")
    m = _build(settings, corpus, 10)
    outcome = publish_version(m.index_version, settings=settings)
    assert not outcome.redis_ok
    assert read_live_version(settings.indexes_dir) == m.index_version
    assert "Redis was not updated" in caplog.text


def test_retention_keeps_n_plus_live_and_previous(
    settings: BatchSettings, corpus: Any, redis_client: Any
) -> None:
    versions = [_build(settings, corpus, 10 + i, day=1 + i).index_version for i in range(5)]
    publish_version(versions[0], settings=settings)  # the oldest version goes live
    kept = {i.version for i in list_versions(settings=settings)}
    assert kept == {versions[0], versions[3], versions[4]}  # 2 newest + live
    outcome = publish_version(versions[4], settings=settings)
    assert outcome.previous == versions[0]
    infos = {i.version: i for i in list_versions(settings=settings)}
    assert set(infos) == {versions[0], versions[3], versions[4]}  # previous live kept
    assert infos[versions[4]].live
    assert infos[versions[0]].previous


@pytest.mark.parametrize("name", ["../../outside/evil", "/etc", "..", "x/../../y"])
def test_publish_refuses_names_that_are_not_versions(
    settings: BatchSettings, corpus: Any, tmp_path: Path, name: str
) -> None:
    live = _build(settings, corpus, 10)
    publish_version(live.index_version, settings=settings)
    # a complete, verifiable version directory outside TANDEM_DATA_DIR
    outside = tmp_path / "outside" / "evil"
    outside.parent.mkdir(parents=True, exist_ok=True)
    if not outside.exists():
        os.symlink(settings.indexes_dir / live.index_version, outside)
    history = (settings.indexes_dir / store.HISTORY_FILE).read_text()
    for force in (False, True):
        with pytest.raises(PublishError, match="not an index version name"):
            publish_version(name, settings=settings, force=force)
    assert read_live_version(settings.indexes_dir) == live.index_version
    assert (settings.indexes_dir / store.HISTORY_FILE).read_text() == history


def test_publish_writes_the_record_the_service_checks(settings: BatchSettings, corpus: Any) -> None:
    from core.index.trust import check_published

    m = _build(settings, corpus, 10)
    with pytest.raises(IndexLoadError, match="not published"):
        check_published(settings.indexes_dir, m.index_version)
    publish_version(m.index_version, settings=settings)
    check_published(settings.indexes_dir, m.index_version)


def test_cli_publish_of_a_path_fails_and_moves_nothing(
    settings: BatchSettings, corpus: Any, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from tandem_cli.main import app

    live = _build(settings, corpus, 10)
    publish_version(live.index_version, settings=settings)
    evil = tmp_path / "outside" / "evil"
    evil.parent.mkdir(parents=True)
    os.symlink(settings.indexes_dir / live.index_version, evil)
    result = CliRunner().invoke(app, ["index", "publish", "../../outside/evil", "--skip-gate"])
    assert result.exit_code != 0
    assert "not an index version name" in result.output
    assert read_live_version(settings.indexes_dir) == live.index_version
