"""Retrieval over a real SQuAD slice: the batch writer's version directory read and searched by the
core reader (checksums, hybrid search, chunk lookup)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from batch.labelled import SquadParagraph, iter_squad_paragraphs, read_squad
from batch.settings import BatchSettings
from core.index import (
    IndexLoadError,
    LexicalConfig,
    Tokenizer,
    load_index,
    read_live_version,
)
from core.index.writer import write_index_version
from shared_schemas.documents import Chunk
from shared_schemas.layout import FAISS_FILE, IDMAP_FILE, MANIFEST_FILE
from tests.conftest import squad_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_PARAS = 40


@pytest.fixture(scope="module")
def paragraphs() -> list[SquadParagraph]:
    return list(iter_squad_paragraphs(read_squad(squad_path())))[:N_PARAS]


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    from core.encoder import get_encoder

    return get_encoder()


@pytest.fixture(scope="module")
def built(
    paragraphs: list[SquadParagraph], encoder, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BatchSettings, str]:  # type: ignore[no-untyped-def]
    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paragraphs]
    cols = ["chunk_id", "doc_id", "title", "text", "content_hash"]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in cols})
    vectors = encoder.encode([c.text for c in chunks])
    settings = BatchSettings(data_dir=tmp_path_factory.mktemp("var"))
    manifest = write_index_version(
        table,
        vectors,
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot="2024-01-01",
        run_date=date(2024, 1, 1),
    )
    return settings, manifest.index_version


def _vdir(built: tuple[BatchSettings, str]) -> Path:
    return built[0].indexes_dir / built[1]


def test_manifest_lists_every_file_with_checksums(built: tuple[BatchSettings, str]) -> None:
    index = load_index(_vdir(built))
    names = {a.path for a in index.manifest.artifacts}
    assert {FAISS_FILE, IDMAP_FILE} <= names
    assert any(n.startswith("bm25/") for n in names)
    assert MANIFEST_FILE not in names
    assert index.manifest.vector_count == N_PARAS == len(index)
    assert index.manifest.dimension == 384
    assert index.manifest.index_version.startswith("20240101-")
    assert index.manifest.lexical == "bm25"


def test_search_finds_the_gold_paragraph(
    built: tuple[BatchSettings, str], paragraphs: list[SquadParagraph], encoder
) -> None:  # type: ignore[no-untyped-def]
    index = load_index(_vdir(built), expected_model=built[0].embedding_model)
    found = 0
    asked = 0
    for p in paragraphs[:20]:
        q = p.questions[0]
        hits = index.search(encoder.encode([q])[0], q, 5)
        assert len(hits) == 5
        assert len({h.chunk_id for h in hits}) == 5
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        asked += 1
        found += p.doc_id in {h.doc_id for h in hits}
    assert found / asked >= 0.9


def test_dense_only_search_and_k_larger_than_index(
    built: tuple[BatchSettings, str], paragraphs: list[SquadParagraph], encoder
) -> None:  # type: ignore[no-untyped-def]
    index = load_index(_vdir(built))
    q = paragraphs[3].questions[0]
    vec = encoder.encode([q])[0]
    dense = index.search(vec, q, 3, lexical=False)
    assert len(dense) == 3
    assert all(-1.01 <= h.score <= 1.01 for h in dense)
    assert len(index.search(vec, q, 500)) == N_PARAS
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.zeros(10, dtype=np.float32), q, 3)


def test_chunk_lookup_by_id(
    built: tuple[BatchSettings, str], paragraphs: list[SquadParagraph], encoder
) -> None:  # type: ignore[no-untyped-def]
    from online.index_state import load_state

    index = load_index(_vdir(built))
    q = paragraphs[5].questions[0]
    hit = index.search(encoder.encode([q])[0], q, 1)[0]
    got = index.chunk(hit.chunk_id)
    assert got is not None
    assert (got.doc_id, got.title, got.text, got.content_hash) == (
        hit.doc_id,
        hit.title,
        hit.text,
        hit.content_hash,
    )
    assert index.chunk("no-such-chunk") is None
    state = load_state(_vdir(built), expected_model=None)
    info = state.chunk(hit.chunk_id)
    assert info is not None
    assert info.text == hit.text
    assert (info.doc_id, info.title) == (hit.doc_id, hit.title)
    assert state.chunk("no-such-chunk") is None
    # chunk texts are held once, by the index: the state keeps no copy of its own
    assert {f.name for f in dataclasses.fields(state)} == {
        "index",
        "version",
        "loaded_at",
        "version_dir",
    }


def test_tampered_artifact_is_refused(built: tuple[BatchSettings, str], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / built[1]
    shutil.copytree(_vdir(built), copy)
    target = copy / IDMAP_FILE
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="sha256"):
        load_index(copy)
    with pytest.raises(IndexLoadError):  # without the checksum it is still not served
        load_index(copy, verify=False)


def test_missing_artifact_and_model_mismatch_are_refused(
    built: tuple[BatchSettings, str], tmp_path: Path
) -> None:
    import shutil

    with pytest.raises(IndexLoadError, match="embedding model"):
        load_index(_vdir(built), expected_model="some/other-model")
    with pytest.raises(IndexLoadError, match="dimension"):
        load_index(_vdir(built), expected_dimension=768)
    copy = tmp_path / "v"
    shutil.copytree(_vdir(built), copy)
    (copy / FAISS_FILE).unlink()
    with pytest.raises(IndexLoadError, match="missing"):
        load_index(copy)


def test_unknown_schema_version_is_refused(
    built: tuple[BatchSettings, str], tmp_path: Path
) -> None:
    import json
    import shutil

    copy = tmp_path / "v"
    shutil.copytree(_vdir(built), copy)
    payload = json.loads((copy / MANIFEST_FILE).read_text())
    payload["schema_version"] = 99
    (copy / MANIFEST_FILE).write_text(json.dumps(payload))
    with pytest.raises(IndexLoadError, match="schema_version 99"):
        load_index(copy)
    (copy / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(IndexLoadError):
        load_index(copy)


def test_read_live_version(tmp_path: Path) -> None:
    assert read_live_version(tmp_path) is None
    (tmp_path / "LIVE").write_text("20240101-abcdef12\n")
    assert read_live_version(tmp_path) == "20240101-abcdef12"
    (tmp_path / "LIVE").write_text("  \n")
    assert read_live_version(tmp_path) is None


def test_tokenizer_lowercases_drops_stopwords_and_stems() -> None:
    plain = Tokenizer(LexicalConfig(stopwords=True, stemmer=None))
    assert plain("What is the Denver Broncos' score?") == ["denver", "broncos", "score"]
    try:
        import Stemmer  # noqa: F401
    except ImportError:
        return
    stem = Tokenizer(LexicalConfig(stopwords=True, stemmer="english"))
    assert stem("running games") == ["run", "game"]
