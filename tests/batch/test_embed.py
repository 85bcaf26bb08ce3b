"""The Spark embed job end to end on a SQuAD slice: vectors, incrementality, model loads."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from batch.embed.encode import encode_frame
from batch.embed.errors import EmbedError
from batch.embed.report import EmbedReport
from batch.embed.run import embed_snapshot
from batch.embed.store import EmbeddingStore
from batch.ingest.run import ingest
from batch.ingest.snapshot import CHUNKS_FILE
from batch.settings import BatchSettings
from tests.batch.conftest import SLICE_PARAGRAPHS, squad_slice, write_squad

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY1, DAY2, DAY3 = date(2024, 4, 1), date(2024, 4, 2), date(2024, 4, 3)
CHANGED_DOC = "Super_Bowl_50#3"


@dataclass(frozen=True)
class FirstRun:
    settings: BatchSettings
    report: EmbedReport
    chunk_ids: list[str]
    doc_of: dict[str, str]


def _snapshot_chunks(settings: BatchSettings, day: date) -> dict[str, str]:
    table = pq.read_table(
        settings.snapshots_dir / day.isoformat() / CHUNKS_FILE, columns=["chunk_id", "doc_id"]
    )
    return dict(zip(table["chunk_id"].to_pylist(), table["doc_id"].to_pylist(), strict=True))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> FirstRun:
    root = tmp_path_factory.mktemp("embed")
    settings = BatchSettings(data_dir=root / "var", spark_master="local[2]")
    source = write_squad(root / "slice.json", squad_slice(SLICE_PARAGRAPHS))
    ingest(source, run_date=DAY1, settings=settings)
    # more tasks than the 2 worker slots, so workers run several tasks each
    report = embed_snapshot(DAY1, settings=settings, spark=spark, partitions=6)
    doc_of = _snapshot_chunks(settings, DAY1)
    return FirstRun(settings, report, list(doc_of), doc_of)


def test_one_normalised_vector_per_chunk(first_run: FirstRun) -> None:
    report = first_run.report
    assert report.chunks_in_snapshot == len(first_run.chunk_ids) >= SLICE_PARAGRAPHS
    assert report.embedded == len(first_run.chunk_ids)
    assert report.already_embedded == 0
    assert report.dimension == 384
    assert report.spark_master == "local[2]"  # the session's master, not the settings'
    store = EmbeddingStore.for_settings(first_run.settings)
    assert store.existing_ids() == set(first_run.chunk_ids)
    ids, matrix = store.load(first_run.chunk_ids)
    assert ids == first_run.chunk_ids
    assert matrix.shape == (len(ids), 384)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    assert len({row.tobytes() for row in matrix}) == len(ids)  # distinct texts, distinct vectors


def test_model_loaded_once_per_worker(first_run: FirstRun) -> None:
    from core.encoder import resolve_device

    loads = first_run.report.model_loads
    assert first_run.report.partitions == 6
    assert 1 <= len(loads) <= 2  # local[2]: at most two Python workers ran the six tasks
    assert set(loads.values()) == {1}, loads
    assert first_run.report.device == resolve_device("auto")


def test_rerun_embeds_nothing_new(first_run: FirstRun, spark: SparkSession) -> None:
    store = EmbeddingStore.for_settings(first_run.settings)
    parts_before = store.part_files()
    again = embed_snapshot(DAY1, settings=first_run.settings, spark=spark)
    assert again.embedded == 0
    assert again.already_embedded == len(first_run.chunk_ids)
    assert store.part_files() == parts_before


def test_changed_document_reembeds_only_its_chunks(
    first_run: FirstRun, spark: SparkSession, tmp_path: Path
) -> None:
    settings = first_run.settings
    squad = copy.deepcopy(squad_slice(SLICE_PARAGRAPHS))
    article, index = CHANGED_DOC.split("#")
    assert squad["data"][0]["title"] == article
    squad["data"][0]["paragraphs"][int(index)]["context"] = (
        "An edited paragraph: the halftime show was moved indoors because of rain."
    )
    ingest(write_squad(tmp_path / "edited.json", squad), run_date=DAY2, settings=settings)
    day2 = _snapshot_chunks(settings, DAY2)
    new_ids = set(day2) - set(first_run.chunk_ids)
    assert {day2[c] for c in new_ids} == {CHANGED_DOC}

    report = embed_snapshot(DAY2, settings=settings, spark=spark)

    assert report.embedded == len(new_ids)
    assert report.already_embedded == len(day2) - len(new_ids)
    assert set(report.model_loads.values()) == {1}  # workers reused: still one load each
    ids, matrix = EmbeddingStore.for_settings(settings).load(list(day2))
    assert ids == list(day2)
    assert matrix.shape == (len(day2), 384)
    dropped = {c for c, d in first_run.doc_of.items() if d == CHANGED_DOC} - set(day2)
    assert dropped
    assert not dropped & set(ids)


def test_spark_job_main(
    first_run: FirstRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from batch.embed import spark_job
    from batch.settings import get_settings

    monkeypatch.setenv("TANDEM_DATA_DIR", str(first_run.settings.data_dir))
    get_settings.cache_clear()
    try:
        assert spark_job.main(["--date", DAY1.isoformat()]) == 0  # nothing new: no Spark start
        printed = json.loads(capsys.readouterr().out)
        assert printed["embedded"] == 0
        assert printed["already_embedded"] == len(first_run.chunk_ids)
        assert spark_job.main(["--date", DAY3.isoformat()]) == 1
        assert "no snapshot for 2024-04-03" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_encode_frame_without_spark() -> None:
    from core import encoder as encoders

    encoder = encoders.get_encoder(None, device="cpu")
    loads = encoders.load_count()
    assert encoders.get_encoder(None, device="cpu") is encoder
    assert encoders.load_count() == loads  # one cache: a second lookup loads nothing
    frame = pd.DataFrame({"chunk_id": ["x", "y"], "text": ["Spark embeds text.", "A cat sat."]})
    out = encode_frame(frame, encoder, batch_size=8)
    assert list(out.columns) == ["chunk_id", "vector"]
    assert out["chunk_id"].tolist() == ["x", "y"]
    vecs = np.stack(out["vector"].to_list())
    assert vecs.shape == (2, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_missing_model_folder_fails_before_spark(first_run: FirstRun, tmp_path: Path) -> None:
    settings = first_run.settings.model_copy(
        update={"embedding_model_path": tmp_path / "absent", "embedding_model": "other/model"}
    )
    with pytest.raises(EmbedError, match="does not exist"):
        embed_snapshot(DAY1, settings=settings)  # no session passed: none is started either


def test_failing_workers_give_one_embed_error(
    first_run: FirstRun, spark: SparkSession, tmp_path: Path
) -> None:
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    settings = first_run.settings.model_copy(
        update={"embedding_model_path": not_a_model, "embedding_model": "broken/model"}
    )
    # the default backend exports in the driver first, torch loads in the workers: either way
    # one clear error, and nothing is written
    expected = "Spark embed job failed" if settings.encoder_backend == "torch" else "unusable"
    with pytest.raises(EmbedError, match=expected):
        embed_snapshot(DAY1, settings=settings, spark=spark)
    assert EmbeddingStore.for_settings(settings).part_files() == []
    torch_settings = settings.model_copy(update={"encoder_backend": "torch"})
    with pytest.raises(EmbedError, match="Spark embed job failed"):
        embed_snapshot(DAY1, settings=torch_settings, spark=spark)
    assert EmbeddingStore.for_settings(torch_settings).part_files() == []


def test_default_session_uses_the_running_one_and_leaves_it_running(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = BatchSettings(data_dir=tmp_path / "var", spark_master="local[1]")
    src = tmp_path / "docs.jsonl"
    src.write_text(
        '{"id": "a", "text": "Spark runs the embed job."}\n'
        '{"id": "b", "text": "FAISS serves the vectors."}\n'
    )
    ingest(src, run_date=DAY1, settings=settings)
    with caplog.at_level(logging.WARNING, logger="batch.embed.spark_session"):
        report = embed_snapshot(DAY1, settings=settings)  # no session passed
    assert report.embedded == 2
    assert report.spark_master == "local[2]"  # the running session's, not a new local[1]
    assert "spark_master=local[1]" in caplog.text  # the override is logged
    assert spark.range(3).count() == 3  # the fixture's session was not stopped


def test_a_killed_runs_staging_is_cleaned_on_the_next_run(
    first_run: FirstRun, spark: SparkSession
) -> None:
    from batch.embed.staging import claimed_staging

    root = EmbeddingStore.for_settings(first_run.settings).path.parent / ".staging"
    abandoned = root / "20240401-deadbeef-0badc0de" / "out"  # SIGKILLed before its cleanup
    abandoned.mkdir(parents=True)
    (abandoned / "part-00000.parquet").write_bytes(b"half written")
    with claimed_staging(root, "20240401-cafecafe-01234567") as running:  # a live run's
        embed_snapshot(DAY1, settings=first_run.settings, spark=spark)
        assert not abandoned.parent.exists()
        assert running.is_dir()
    assert sorted(p.name for p in root.iterdir()) == []
