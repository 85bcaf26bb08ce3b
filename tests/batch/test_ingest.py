"""Ingest: each source kind, bad documents counted, malformed files named, snapshot layout."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch.corpus import CorpusError
from batch.ingest.errors import IngestError
from batch.ingest.report import IngestReport
from batch.ingest.run import ingest
from batch.ingest.snapshot import CHUNKS_FILE, CHUNKS_SCHEMA, DOCUMENTS_FILE, REPORT_FILE
from batch.labelled import LabelledSetError, iter_squad_paragraphs, read_labelled, read_squad
from batch.settings import BatchSettings
from shared_schemas import Chunk
from shared_schemas.hashing import chunk_id_for, normalize_text

DAY = date(2024, 3, 1)


def _chunks(report: IngestReport) -> list[dict[str, object]]:
    assert report.snapshot_path is not None
    rows: list[dict[str, object]] = pq.read_table(report.snapshot_path / CHUNKS_FILE).to_pylist()
    return rows


def test_squad_source_one_document_per_paragraph(
    squad_slice_file: Path, batch_settings: BatchSettings
) -> None:
    report = ingest(squad_slice_file, run_date=DAY, settings=batch_settings)

    assert report.source_kind == "squad"
    assert report.documents_read == report.documents_written == 40
    assert report.skipped == {}
    snap = batch_settings.snapshots_dir / "2024-03-01"
    assert report.snapshot_path == snap
    assert sorted(p.name for p in snap.iterdir()) == [CHUNKS_FILE, DOCUMENTS_FILE, REPORT_FILE]
    docs = pq.read_table(snap / DOCUMENTS_FILE).to_pylist()
    assert docs[0]["doc_id"] == "Super_Bowl_50#0"
    assert docs[0]["title"] == "Super Bowl 50"
    assert json.loads(docs[0]["metadata"])["paragraph"] == 0
    chunks = pq.read_table(snap / CHUNKS_FILE)
    assert chunks.schema.names == CHUNKS_SCHEMA.names
    assert chunks.num_rows == report.chunks_written >= 40
    assert {r["doc_id"] for r in chunks.to_pylist()} == {d["doc_id"] for d in docs}
    on_disk = IngestReport.model_validate_json((snap / REPORT_FILE).read_text())
    assert on_disk.chunks_written == report.chunks_written


def test_chunk_rows_are_valid_contracts(
    squad_slice_file: Path, batch_settings: BatchSettings
) -> None:
    report = ingest(squad_slice_file, run_date=DAY, settings=batch_settings)
    for row in _chunks(report):
        chunk = Chunk.model_validate(row)  # re-derives and checks chunk_id and content_hash
        assert chunk.chunk_id == chunk_id_for(chunk.doc_id, normalize_text(chunk.text))


def test_folder_source_with_bad_documents(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "docs"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("Plain text about Spark  and\n\nFAISS.", encoding="utf-8")
    (src / "sub" / "b.md").write_text("# Markdown title\n\nSome *markdown* body.")
    (src / "c.html").write_text(
        "<html><head><title>Page &amp; title</title><style>p {color: red}</style></head>"
        "<body><h1>Head</h1><p>Visible para&nbsp;one.</p><script>var hidden = 1;</script>"
        "</body></html>"
    )
    (src / "empty.txt").write_text("  \n\t ")
    (src / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (src / "big.txt").write_text("word " * 400)
    (src / "image.png").write_bytes(b"\x89PNG\r\n")
    (src / ".hidden.txt").write_text("never read")
    settings = BatchSettings(data_dir=data_dir, max_doc_bytes=1000)

    report = ingest(src, run_date=DAY, settings=settings)

    assert report.source_kind == "folder"
    assert report.documents_written == 3
    assert report.skipped == {"empty": 1, "undecodable": 1, "too_large": 1, "unsupported_type": 1}
    assert report.skipped_examples["undecodable"] == ["latin1.txt"]
    docs = {
        d["doc_id"]: d
        for d in pq.read_table(report.snapshot_path / DOCUMENTS_FILE).to_pylist()  # type: ignore[operator]
    }
    assert set(docs) == {"a.txt", "sub/b.md", "c.html"}
    assert docs["a.txt"]["text"] == "Plain text about Spark and FAISS."
    assert docs["sub/b.md"]["title"] == "Markdown title"
    assert docs["c.html"]["title"] == "Page & title"
    assert "Visible para one." in docs["c.html"]["text"]
    assert "hidden" not in docs["c.html"]["text"]
    assert "color" not in docs["c.html"]["text"]


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_jsonl_source_counts_bad_records(tmp_path: Path, data_dir: Path) -> None:
    src = _jsonl(
        tmp_path / "docs.jsonl",
        [
            json.dumps(
                {"id": "d1", "text": "First doc.", "title": "One", "url": "http://x/1"}
            ).encode(),
            json.dumps({"id": 2, "text": "Numeric id doc.", "metadata": {"lang": "en"}}).encode(),
            json.dumps({"id": "d3", "text": "   "}).encode(),
            json.dumps({"id": "d4"}).encode(),
            json.dumps({"id": "d1", "text": "Duplicate id."}).encode(),
            b'{"id": "d6", "text": "bad \xff byte"}',
            b"",
            json.dumps({"id": "d7", "text": "x" * 600}).encode(),
        ],
    )
    report = ingest(src, run_date=DAY, settings=BatchSettings(data_dir=data_dir, max_doc_bytes=500))

    assert report.source_kind == "jsonl"
    assert report.documents_read == 7
    assert report.documents_written == 2
    assert report.skipped == {
        "empty": 1,
        "invalid_record": 1,
        "duplicate_id": 1,
        "undecodable": 1,
        "too_large": 1,
    }
    assert report.skipped_examples["invalid_record"] == ["docs.jsonl:4"]
    assert report.skipped_examples["undecodable"] == ["docs.jsonl:6"]
    docs = pq.read_table(report.snapshot_path / DOCUMENTS_FILE).to_pylist()  # type: ignore[operator]
    assert [(d["doc_id"], d["url"]) for d in docs] == [("d1", "http://x/1"), ("2", None)]
    assert json.loads(docs[1]["metadata"]) == {"lang": "en"}


def test_malformed_jsonl_names_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    src = _jsonl(
        tmp_path / "broken.jsonl",
        [b'{"id": "a", "text": "fine"}', b"", b'{"id": "b", "text": "unterminated'],
    )
    with pytest.raises(IngestError, match=r"broken\.jsonl:3: invalid JSON"):
        ingest(src, run_date=DAY, settings=BatchSettings(data_dir=data_dir))
    assert not (data_dir / "snapshots" / "2024-03-01").exists()


def test_jsonl_line_that_is_not_an_object_is_malformed(tmp_path: Path, data_dir: Path) -> None:
    src = _jsonl(tmp_path / "list.jsonl", [b'{"id": "a", "text": "fine"}', b"[1, 2]"])
    with pytest.raises(IngestError, match=r"list\.jsonl:2: expected a JSON object"):
        ingest(src, run_date=DAY, settings=BatchSettings(data_dir=data_dir))


def test_malformed_squad_names_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "squad.json"
    src.write_text('{"data": [\n  {"title": "T",\n   "paragraphs": [}\n]}')
    with pytest.raises(IngestError, match=r"squad\.json:3: invalid JSON"):
        ingest(src, run_date=DAY, settings=BatchSettings(data_dir=data_dir))


def test_unknown_or_missing_source(tmp_path: Path, data_dir: Path) -> None:
    settings = BatchSettings(data_dir=data_dir)
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(IngestError, match="unknown source kind"):
        ingest(tmp_path / "notes.csv", run_date=DAY, settings=settings)
    with pytest.raises(IngestError, match="no such file"):
        ingest(tmp_path / "absent.jsonl", run_date=DAY, settings=settings)


def test_same_input_same_chunk_ids_and_identical_snapshot(
    squad_slice_file: Path, batch_settings: BatchSettings
) -> None:
    first = ingest(squad_slice_file, run_date=DAY, settings=batch_settings)
    snap = first.snapshot_path
    assert snap is not None
    before = {
        name: (snap / name).read_bytes() for name in (CHUNKS_FILE, DOCUMENTS_FILE, REPORT_FILE)
    }

    again = ingest(squad_slice_file, run_date=DAY, settings=batch_settings)
    other_day = ingest(squad_slice_file, run_date=date(2024, 3, 2), settings=batch_settings)

    assert again.snapshot_path == snap
    assert {name: (snap / name).read_bytes() for name in before} == before
    assert [c["chunk_id"] for c in _chunks(other_day)] == [c["chunk_id"] for c in _chunks(first)]
    staging = batch_settings.snapshots_dir / ".staging"
    assert list(staging.iterdir()) == []  # nothing left behind by the swaps


def test_changed_document_changes_only_its_chunk_ids(tmp_path: Path, data_dir: Path) -> None:
    settings = BatchSettings(data_dir=data_dir)
    lines = [
        json.dumps({"id": f"d{i}", "text": f"Document number {i} talks about topic {i}."})
        for i in range(5)
    ]
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(lines) + "\n")
    old = {
        c["chunk_id"]: c["doc_id"] for c in _chunks(ingest(src, run_date=DAY, settings=settings))
    }
    lines[2] = json.dumps({"id": "d2", "text": "Document two was edited."})
    src.write_text("\n".join(lines) + "\n")
    new = {
        c["chunk_id"]: c["doc_id"]
        for c in _chunks(ingest(src, run_date=date(2024, 3, 2), settings=settings))
    }
    assert {new[c] for c in set(new) - set(old)} == {"d2"}
    assert {old[c] for c in set(old) - set(new)} == {"d2"}


def test_unreadable_file_in_a_folder_is_one_skip(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    (src / "ok.txt").write_text("A readable document about Spark.")
    locked = src / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads mode-000 files: make this one file fail as it would
        real = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self == locked:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    try:
        report = ingest(src, run_date=DAY, settings=BatchSettings(data_dir=data_dir))
    finally:
        locked.chmod(0o644)
    assert report.documents_written == 1
    assert report.skipped == {"unreadable": 1}
    assert report.skipped_examples["unreadable"] == ["locked.txt"]


def test_squad_ingest_and_labelled_set_share_doc_ids(
    squad_slice_file: Path, batch_settings: BatchSettings
) -> None:
    report = ingest(squad_slice_file, run_date=DAY, settings=batch_settings)
    assert report.snapshot_path is not None
    stored = set(pq.read_table(report.snapshot_path / DOCUMENTS_FILE)["doc_id"].to_pylist())
    gold = {d for q in read_labelled(squad_slice_file) for d in q.relevant_doc_ids}
    paragraphs = {p.doc_id for p in iter_squad_paragraphs(read_squad(squad_slice_file))}
    assert gold
    assert gold <= stored == paragraphs


def test_squad_bad_paragraph_is_skipped_bad_article_names_the_file(
    tmp_path: Path, data_dir: Path
) -> None:
    settings = BatchSettings(data_dir=data_dir)
    good = {"context": "Fine text.", "qas": [{"question": "Fine?"}, {"id": "no question"}]}
    src = tmp_path / "squad.json"
    src.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [good, {"qas": []}]}]}))
    report = ingest(src, run_date=DAY, settings=settings)
    assert report.documents_written == 1
    assert report.skipped == {"invalid_record": 1}
    assert [q.question for q in read_labelled(src)] == ["Fine?"]
    src.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [good]}, {"title": "U"}]}))
    with pytest.raises(IngestError, match=r"squad\.json: article 1 has no 'paragraphs' list"):
        ingest(src, run_date=date(2024, 3, 2), settings=settings)
    with pytest.raises(LabelledSetError, match=r"squad\.json: article 1 has no 'paragraphs'"):
        read_labelled(src)


def test_gzipped_sources_and_labelled_sets_read_alike(tmp_path: Path, data_dir: Path) -> None:
    rows = [{"id": "a", "text": "Alpha text."}, {"id": "b", "text": "Beta text."}]
    src = tmp_path / "docs.jsonl.gz"
    src.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    assert (
        ingest(src, run_date=DAY, settings=BatchSettings(data_dir=data_dir)).documents_written == 2
    )
    gold = tmp_path / "gold.jsonl.gz"
    gold.write_bytes(gzip.compress(b'{"question": "q?", "relevant_doc_ids": "a"}\n'))
    assert read_labelled(gold)[0].relevant_doc_ids == frozenset({"a"})
    (tmp_path / "bad.jsonl.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(IngestError, match=r"bad\.jsonl\.gz: cannot read"):
        ingest(tmp_path / "bad.jsonl.gz", run_date=DAY, settings=BatchSettings(data_dir=data_dir))


def test_missing_squad_fails_the_test_rather_than_skipping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import batch.corpus
    from tests import conftest

    def unavailable(*args: object, **kwargs: object) -> Path:
        raise CorpusError("no network")

    monkeypatch.setattr(batch.corpus, "locate_demo_corpus", unavailable)
    with pytest.raises(pytest.fail.Exception, match="SQuAD dev set unavailable: no network"):
        conftest.squad_path.__wrapped__()
