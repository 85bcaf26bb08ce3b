"""Hot-answer precompute with the online pipeline, and carry-over eviction across versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from batch.hot_answers import HotAnswersError, warm_cache
from batch.index.build import write_index_version
from batch.index.publish import publish
from batch.settings import BatchSettings
from online.cache import CacheScope, RedisAnswerCache
from online.embedding import get_encoder
from online.llm.base import ChatMessage, GenerationStats
from online.pipeline import AnswerPipeline
from online.settings import OnlineSettings
from shared_schemas import Chunk, QueryLogEvent
from shared_schemas.hashing import content_hash, normalize_question, question_key_hash
from shared_schemas.layout import QUERY_LOG_STREAM

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCS = {
    "paris": ("Paris", "Paris is the capital and largest city of France."),
    "nile": ("Nile", "The Nile is a major north-flowing river in northeastern Africa."),
    "everest": ("Everest", "Mount Everest is Earth's highest mountain above sea level."),
}


class EchoLLM:
    """A deterministic LLM: answers with the title of the first context chunk."""

    model_id = "echo-llm"

    def __init__(self) -> None:
        self.calls = 0

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> str:
        self.calls += 1
        return "answer: " + messages[-1]["content"][:40]

    def stream(self, messages: list[ChatMessage], **kw: Any) -> Iterator[str]:
        yield self.generate(messages, max_new_tokens=kw.get("max_new_tokens", 8))

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _chunks(docs: dict[str, tuple[str, str]]) -> pa.Table:
    rows = [
        {
            "chunk_id": Chunk(doc_id=doc_id, ordinal=0, text=text).chunk_id,
            "doc_id": doc_id,
            "title": title,
            "text": text,
            "content_hash": content_hash(text),
        }
        for doc_id, (title, text) in docs.items()
    ]
    return pa.Table.from_pylist(rows)


def _build(settings: BatchSettings, docs: dict[str, tuple[str, str]], day: date) -> str:
    table = _chunks(docs)
    vectors = get_encoder().encode(table.column("text").to_pylist())
    manifest = write_index_version(
        table, vectors, settings=settings, source_snapshot=day.isoformat(), run_date=day
    )
    return manifest.index_version


@pytest.fixture
def settings(data_dir: Path) -> BatchSettings:
    return BatchSettings(gate_recall5_floor=0.0)


@pytest.fixture
def pipeline(data_dir: Path) -> AnswerPipeline:
    # one cited chunk per answer, so which entries cite the changed document is clear-cut
    return AnswerPipeline(settings=OnlineSettings(top_k=1), encoder=get_encoder(), llm=EchoLLM())


def _log_question(client: Any, question: str, day: date) -> None:
    ts = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    ev = QueryLogEvent(
        query_id=uuid.uuid4().hex,
        question=question,
        normalized_key=normalize_question(question),
        ts=ts,
        cache="miss",
        latency_ms=1.0,
    )
    client.xadd(QUERY_LOG_STREAM, {"event": ev.dumps()})


def test_warm_writes_versioned_entries_and_is_idempotent(
    settings: BatchSettings, pipeline: AnswerPipeline, redis_client: Any, tmp_path: Path
) -> None:
    day = datetime.now(UTC).date()
    version = _build(settings, DOCS, day)
    publish(version, settings=settings)
    for q in ["What is the capital of France?"] * 3 + ["Which river flows north?"]:
        _log_question(redis_client, q, day)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# comment\nHow high is Mount Everest?\n\nwhat is the capital of france\n")

    report = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        pipeline=pipeline,
        redis_client=redis_client,
    )
    assert (report.mined, report.seeds, report.written) == (2, 2, 3)  # one seed duplicates
    cache = RedisAnswerCache(redis_client)
    entry = cache.get(pipeline.scope(version), question_key_hash("What is the capital of France?"))
    assert entry is not None and entry.origin == "batch"
    assert entry.index_version == version and entry.llm_model == "echo-llm"
    assert entry.cited[0].doc_id == "paris"
    key = pipeline.scope(version).key(entry.normalized_key)
    assert 0 < redis_client.ttl(key) <= settings.cache_ttl_s
    assert version in key and "echo-llm" in key and "p1" in key

    again = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        pipeline=pipeline,
        redis_client=redis_client,
    )
    assert (again.written, again.already_cached) == (0, 3)


def test_candidate_warm_evicts_exactly_entries_citing_changed_docs(
    settings: BatchSettings, pipeline: AnswerPipeline, redis_client: Any, tmp_path: Path
) -> None:
    day = datetime.now(UTC).date()
    v1 = _build(settings, DOCS, day)
    publish(v1, settings=settings)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("What is the capital of France?\nHow high is Mount Everest?\n")
    warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        pipeline=pipeline,
        redis_client=redis_client,
        top_k=1,
    )
    changed = dict(DOCS)
    changed["paris"] = ("Paris", "Paris, on the Seine, is the capital of the French Republic.")
    v2 = _build(settings, changed, day)
    assert v2 != v1

    seeds.write_text("")  # nothing new to answer: only the carry-over acts
    report = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        version=v2,
        pipeline=pipeline,
        redis_client=redis_client,
        top_k=1,
    )
    assert report.carry is not None
    assert report.carry.evicted == [question_key_hash("What is the capital of France?")]
    assert report.carry.carried == [question_key_hash("How high is Mount Everest?")]
    cache = RedisAnswerCache(redis_client)
    new_scope: CacheScope = pipeline.scope(v2)
    moved = cache.get(new_scope, question_key_hash("How high is Mount Everest?"))
    assert moved is not None and moved.index_version == v2
    assert cache.get(new_scope, question_key_hash("What is the capital of France?")) is None
    # the live version's entries stay for a rollback
    assert cache.get(pipeline.scope(v1), question_key_hash("What is the capital of France?"))


def test_warm_without_any_version_is_a_clear_error(
    settings: BatchSettings, pipeline: AnswerPipeline, redis_client: Any
) -> None:
    with pytest.raises(HotAnswersError, match="no index version"):
        warm_cache(
            settings=settings,
            run_date=date(2026, 1, 1),
            pipeline=pipeline,
            redis_client=redis_client,
        )
