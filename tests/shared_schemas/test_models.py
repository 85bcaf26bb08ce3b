from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from shared_schemas import (
    ALL_MODELS,
    CacheEntry,
    Chunk,
    CitedChunk,
    Document,
    FeedbackEvent,
    IndexManifest,
    QueryLogEvent,
    SchemaError,
    SchemaVersionError,
    VersionedModel,
    read_model,
)
from shared_schemas.base import Migration
from shared_schemas.export import drift, rendered
from shared_schemas.hashing import chunk_id_for, normalize_question, normalize_text
from shared_schemas.manifest import AnswerQuality, ArtifactFile, QualityMetrics

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

EXAMPLES: dict[type[VersionedModel], VersionedModel] = {
    Document: Document(doc_id="d1", title="T", text="Some  text\n here", url="http://x"),
    Chunk: Chunk(doc_id="d1", ordinal=0, title="T", text="Some text here", n_tokens=3),
    ArtifactFile: ArtifactFile(path="index.faiss", sha256="ab" * 32, bytes=10),
    AnswerQuality: (
        ANSWERS := AnswerQuality(
            prompt_version="p3",
            llm_model="l",
            questions=3,
            exact_match=33.3,
            f1=40.0,
            contains_gold=0.5,
            cited_gold=1.0,
            latency_ms_p50=900.0,
        )
    ),
    QualityMetrics: QualityMetrics(recall_at_5=0.9, questions=10, answers=(ANSWERS,)),
    IndexManifest: IndexManifest(
        index_version="v1",
        embedding_model="m",
        dimension=384,
        faiss_factory="Flat",
        vector_count=2,
        chunk_set_digest="d",
        build_started_at=NOW,
        build_finished_at=NOW,
        artifacts=(ArtifactFile(path="index.faiss", sha256="ab" * 32, bytes=10),),
        quality=QualityMetrics(recall_at_5=0.9, questions=10),
    ),
    CitedChunk: CitedChunk(chunk_id="c", content_hash="h"),
    CacheEntry: CacheEntry(
        question="Who?",
        normalized_key="who",
        answer="Me",
        cited=(CitedChunk(chunk_id="c", content_hash="h"),),
        index_version="v1",
        embedding_model="m",
        llm_model="l",
        prompt_version="p1",
        created_at=NOW,
    ),
    QueryLogEvent: QueryLogEvent(
        query_id="q", question="Who?", normalized_key="who", ts=NOW, cache="miss", latency_ms=1
    ),
    FeedbackEvent: FeedbackEvent(query_id="q", rating=1, ts=NOW),
}


def test_every_model_has_an_example() -> None:
    assert set(EXAMPLES) == set(ALL_MODELS)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_round_trip_json(model: type[VersionedModel]) -> None:
    obj = EXAMPLES[model]
    again = model.parse(obj.dumps())
    assert again == obj
    assert again.schema_version == model.SCHEMA_VERSION
    assert read_model(model, obj.model_dump(mode="json")) == obj


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_unknown_version_is_refused_with_both_versions(model: type[VersionedModel]) -> None:
    payload = EXAMPLES[model].model_dump(mode="json")
    payload["schema_version"] = 99
    with pytest.raises(SchemaVersionError) as err:
        model.parse(payload)
    msg = str(err.value)
    assert "99" in msg
    assert "version 1" in msg
    assert model.__name__ in msg
    assert err.value.found == 99
    assert err.value.supported == (1,)


def test_missing_version_is_refused() -> None:
    payload = EXAMPLES[Document].model_dump(mode="json")
    del payload["schema_version"]
    with pytest.raises(SchemaVersionError, match="None"):
        Document.parse(payload)


def test_older_version_is_upgraded_through_a_migration() -> None:
    def v1_to_v2(p: dict[str, Any]) -> dict[str, Any]:
        return {"schema_version": 2, "name": p["title"]}

    class Thing(VersionedModel):
        SCHEMA_VERSION: ClassVar[int] = 2
        MIGRATIONS: ClassVar[dict[int, Migration]] = {1: v1_to_v2}
        schema_version: int = 2
        name: str

    assert Thing.parse({"schema_version": 1, "title": "x"}).name == "x"
    assert Thing.supported_versions() == (1, 2)
    with pytest.raises(SchemaVersionError):
        Thing.parse({"schema_version": 0, "title": "x"})


def test_garbage_and_invalid_fields_raise_schema_error() -> None:
    with pytest.raises(SchemaError, match="not JSON"):
        Document.parse("{nope")
    with pytest.raises(SchemaError):
        Document.parse({"schema_version": 1, "doc_id": "", "text": "x"})
    with pytest.raises(SchemaError):
        Document.parse({"schema_version": 1, "doc_id": "d", "text": "x", "surprise": 1})


def test_models_are_frozen() -> None:
    doc = EXAMPLES[Document]
    with pytest.raises(Exception, match="frozen"):
        doc.title = "other"  # type: ignore[misc]


def test_chunk_id_derives_from_doc_and_content() -> None:
    a = Chunk(doc_id="d1", ordinal=0, text="Hello   world")
    b = Chunk(doc_id="d1", ordinal=5, text="Hello world")
    c = Chunk(doc_id="d2", ordinal=0, text="Hello world")
    assert a.chunk_id == b.chunk_id == chunk_id_for("d1", "Hello world")
    assert a.chunk_id != c.chunk_id
    with pytest.raises(SchemaError):
        Chunk.parse({**a.model_dump(mode="json"), "chunk_id": "forged"})


def test_document_content_hash_checked() -> None:
    with pytest.raises(SchemaError, match="content_hash"):
        Document.parse({"schema_version": 1, "doc_id": "d", "text": "x", "content_hash": "bad"})


def test_normalisation() -> None:
    assert normalize_text(" a\u00a0 b\n") == "a b"
    assert normalize_question("  Who WON the  Super Bowl?? ") == "who won the super bowl"


def test_exported_schemas_match_models() -> None:
    assert drift() == [], "run `make schemas` and commit shared_schemas/json"
    assert len(rendered()) == len(ALL_MODELS)


def test_drift_is_detected(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import shared_schemas.export as export

    monkeypatch.setattr(export, "SCHEMA_DIR", tmp_path)
    export.write()
    path = tmp_path / "Document.v1.json"
    path.write_text(path.read_text().replace("doc_id", "document_id"))
    assert export.drift() == ["Document.v1.json"]
    assert export.main(["--check"]) == 1


pytestmark = pytest.mark.unit  # pure logic: `make unit`


def test_symbol_only_questions_do_not_share_one_key() -> None:
    """Issue 27 item 6: '🏈🏆 ?', '???' and '😀' all normalised to '' and shared one answer."""
    from shared_schemas.hashing import normalize_question, question_key_hash

    keys = {question_key_hash(q) for q in ("🏈🏆 ?", "???", "😀", "!!")}
    assert len(keys) == 4
    assert all(normalize_question(q) for q in ("🏈🏆 ?", "???", "😀"))
    # ordinary questions keep their form: edge punctuation off, case folded
    assert normalize_question("  Who WON?! ") == "who won"
    assert question_key_hash("Who won?") == question_key_hash("who won")


def test_embedding_text_ends_with_one_question_mark() -> None:
    from shared_schemas.hashing import embedding_text

    assert embedding_text("  Who won the  Super Bowl?? ") == "Who won the Super Bowl?"
    assert embedding_text("who won the super bowl") == "who won the super bowl?"
    assert embedding_text("who won the super bowl.") == "who won the super bowl?"
    assert embedding_text("Who won the Super Bowl?") == "Who won the Super Bowl?"  # as written
    assert embedding_text("Is it 3.5") == "Is it 3.5?"  # a mark inside stays
    assert embedding_text("???") == "???"  # marks only: kept as they are
