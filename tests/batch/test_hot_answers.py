"""Hot-answer precompute with the core answerer, and carry-over eviction across versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from batch.cache_carry import carry_over, copy_ttl_ms
from batch.hot_answers import HotAnswersError, warm_cache
from batch.index.publish import publish_version
from batch.settings import BatchSettings
from core.answering import Answerer
from core.bootstrap import answer_config
from core.cache.codec import CacheScope
from core.cache.redis_sync import RedisAnswerCacheSync
from core.encoder import get_encoder
from core.index.writer import write_index_version
from core.llm.base import ChatMessage, GenerationStats
from shared_schemas import Chunk, QueryLogEvent
from shared_schemas.cache import CacheEntry, CitedChunk
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
        self.closed = False

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
        self.closed = True


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
        table,
        vectors,
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot=day.isoformat(),
        run_date=day,
    )
    return manifest.index_version


@pytest.fixture
def settings(data_dir: Path) -> BatchSettings:
    return BatchSettings(gate_recall5_floor=0.0)


@pytest.fixture
def answerer(data_dir: Path) -> Answerer:
    # one cited chunk per answer, so which entries cite the changed document is clear-cut
    config = answer_config(BatchSettings(top_k=1))
    return Answerer(encoder=get_encoder(), llm=EchoLLM(), config=config)


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
    settings: BatchSettings, answerer: Answerer, redis_client: Any, tmp_path: Path
) -> None:
    day = datetime.now(UTC).date()
    version = _build(settings, DOCS, day)
    publish_version(version, settings=settings)
    for q in ["What is the capital of France?"] * 3 + ["Which river flows north?"]:
        _log_question(redis_client, q, day)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# comment\nHow high is Mount Everest?\n\nwhat is the capital of france\n")

    report = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=answerer,
        redis_client=redis_client,
    )
    assert (report.mined, report.seeds, report.written) == (2, 2, 3)  # one seed duplicates
    cache = RedisAnswerCacheSync(redis_client)
    entry = cache.get_exact(
        answerer.scope(version), question_key_hash("What is the capital of France?")
    )
    assert entry is not None
    assert entry.origin == "batch"
    assert entry.index_version == version
    assert entry.llm_model == "echo-llm"
    assert entry.cited[0].doc_id == "paris"
    key = answerer.scope(version).key(entry.normalized_key)
    assert 0 < redis_client.ttl(key) <= settings.cache_ttl_s
    assert version in key
    assert "echo-llm" in key
    assert f":{settings.prompt_version}:" in key

    again = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=answerer,
        redis_client=redis_client,
    )
    assert (again.written, again.already_cached) == (0, 3)
    assert not answerer.llm.closed  # an answerer passed in belongs to the caller
    assert "written by fast (echo-llm)" in report.summary()

    # the deep tier warming the same day replaces the fast tier's answers under the same keys
    # (and records itself), and leaves its own alone the next time
    deep = answerer.with_config(tier="deep")
    upgraded = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=deep,
        redis_client=redis_client,
    )
    assert (upgraded.written, upgraded.already_cached) == (3, 0)
    replaced = cache.get_exact(
        answerer.scope(version), question_key_hash("What is the capital of France?")
    )
    assert replaced is not None
    assert replaced.tier == "deep"
    settled = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=deep,
        redis_client=redis_client,
    )
    assert (settled.written, settled.already_cached) == (0, 3)


def test_warm_closes_the_client_and_llm_it_created(
    settings: BatchSettings,
    answerer: Answerer,
    redis_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    import batch.hot_answers as hot

    day = datetime.now(UTC).date()
    publish_version(_build(settings, DOCS, day), settings=settings)
    made: list[ClosingRedis] = []
    real_connect = hot.connect

    class ClosingRedis:
        """A real client (one node or a cluster) that records whether it was closed."""

        def __init__(self, client: Any) -> None:
            self.client = client
            self.closed = False
            made.append(self)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def close(self) -> None:
            self.closed = True
            self.client.close()

    monkeypatch.setattr(hot, "connect", lambda s: ClosingRedis(real_connect(s)))
    monkeypatch.setattr(hot, "build_answerer", lambda settings, **kw: answerer)
    report = warm_cache(settings=settings, run_date=day)
    assert report.mined == 0
    assert answerer.llm.closed
    assert [c.closed for c in made] == [True]
    # a hung Redis must not hang the DAG task: the client it made has socket timeouts
    assert made[0].client.get_connection_kwargs()["socket_timeout"] > 0
    assert made[0].client.get_connection_kwargs()["socket_connect_timeout"] > 0


def _entry(scope: CacheScope, question: str, chunk: str, expires_at: datetime | None) -> str:
    entry = CacheEntry(
        question=question,
        normalized_key=normalize_question(question),
        answer="a",
        cited=(CitedChunk(chunk_id=chunk, content_hash="h-" + chunk),),
        index_version=scope.index_version,
        embedding_model=scope.embedding_model,
        llm_model=scope.llm_model,
        prompt_version=scope.prompt_version,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    return entry.dumps()


def test_carry_never_copies_without_expiry(redis_client: Any) -> None:
    old = CacheScope("20260301-aaaaaaaa", "emb", "llm", "p1")
    new = CacheScope("20260302-bbbbbbbb", "emb", "llm", "p1")
    now = datetime.now(UTC)
    rows = {  # question -> (TTL of the old key in s or None, entry's expires_at)
        "with ttl": (30, now + timedelta(days=9)),
        "no ttl, expires_at": (None, now + timedelta(seconds=100)),
        "no ttl, no expires_at": (None, None),
        "no ttl, already expired": (None, now - timedelta(seconds=1)),
        "vanishes": (None, None),
    }
    for i, (q, (ttl, expires)) in enumerate(rows.items()):
        redis_client.set(old.key(question_key_hash(q)), _entry(old, q, f"c{i}", expires), ex=ttl)
    chunks = {f"c{i}": f"h-c{i}" for i in range(len(rows))}
    gone = old.key(question_key_hash("vanishes"))

    class ExpiresBetweenGetAndPttl:
        def __getattr__(self, name: str) -> Any:
            return getattr(redis_client, name)

        def pttl(self, key: str) -> int:
            return -2 if key == gone else int(redis_client.pttl(key))

    report = carry_over(ExpiresBetweenGetAndPttl(), old=old, new=new, new_chunks=chunks, ttl_s=50)
    assert sorted(report.carried) == sorted(
        question_key_hash(q) for q in ["with ttl", "no ttl, expires_at", "no ttl, no expires_at"]
    )

    def pttl(q: str) -> int:
        return int(redis_client.pttl(new.key(question_key_hash(q))))

    assert 0 < pttl("with ttl") <= 30_000
    assert 90_000 < pttl("no ttl, expires_at") <= 100_000
    assert 0 < pttl("no ttl, no expires_at") <= 50_000
    assert pttl("no ttl, already expired") == -2
    assert pttl("vanishes") == -2


def test_copy_ttl_rule() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    entry = CacheEntry.parse(_entry(CacheScope("v", "e", "l", "p"), "q?", "c", None))
    timed = entry.model_copy(update={"expires_at": now + timedelta(seconds=5)})
    assert copy_ttl_ms(1234, entry, ttl_s=None) == 1234
    assert copy_ttl_ms(-2, timed, ttl_s=60, now=now) is None
    assert copy_ttl_ms(-1, timed, ttl_s=60, now=now) == 5000
    assert copy_ttl_ms(-1, entry, ttl_s=60, now=now) == 60_000
    assert copy_ttl_ms(-1, entry, ttl_s=None, now=now) is None


def test_candidate_warm_evicts_exactly_entries_citing_changed_docs(
    settings: BatchSettings, answerer: Answerer, redis_client: Any, tmp_path: Path
) -> None:
    day = datetime.now(UTC).date()
    v1 = _build(settings, DOCS, day)
    publish_version(v1, settings=settings)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("What is the capital of France?\nHow high is Mount Everest?\n")
    warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=answerer,
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
        answerer=answerer,
        redis_client=redis_client,
        top_k=1,
    )
    assert report.carry is not None
    assert report.carry.evicted == [question_key_hash("What is the capital of France?")]
    assert report.carry.carried == [question_key_hash("How high is Mount Everest?")]
    cache = RedisAnswerCacheSync(redis_client)
    new_scope: CacheScope = answerer.scope(v2)
    moved = cache.get_exact(new_scope, question_key_hash("How high is Mount Everest?"))
    assert moved is not None
    assert moved.index_version == v2
    assert cache.get_exact(new_scope, question_key_hash("What is the capital of France?")) is None
    # the live version's entries stay for a rollback
    assert cache.get_exact(answerer.scope(v1), question_key_hash("What is the capital of France?"))


def test_warm_without_any_version_is_a_clear_error(
    settings: BatchSettings, answerer: Answerer, redis_client: Any
) -> None:
    with pytest.raises(HotAnswersError, match="no index version"):
        warm_cache(
            settings=settings,
            run_date=date(2026, 1, 1),
            answerer=answerer,
            redis_client=redis_client,
        )


class RewordingLLM(EchoLLM):
    """EchoLLM that also rewords questions (three lines, one a different question) and judges
    pairs by first-token log-probabilities: "yes" unless the second names another river."""

    model_id = "rewording-llm"

    def generate(self, messages: list[ChatMessage], **kw: Any) -> str:
        if "rewordings of" in messages[-1]["content"]:
            self.calls += 1
            return (
                "1. What city is the capital of France?\n"
                "- france's capital is what city\n"
                "What is the capital of Germany?\n"
                "What is the capital of France?\n"  # the question itself: dropped
            )
        return super().generate(messages, **kw)

    def first_token_logprobs(self, messages: list[ChatMessage], *, top: int = 10) -> dict:  # type: ignore[type-arg]
        second = messages[-1]["content"].split("Question B:", 1)[1]
        same = "Germany" not in second
        return {"yes": -0.001 if same else -6.0, "no": -7.0 if same else -0.01}


def test_a_deep_warm_keeps_judged_paraphrases_as_aliases(
    settings: BatchSettings, redis_client: Any
) -> None:
    """Issue 24 item 2: the deep model rewords each hot question, the judge keeps what asks
    the same, and each kept rewording is an entry of its own holding the same answer."""
    settings = settings.model_copy(update={"warm_paraphrases": 3, "judge_cut": 0.99})
    day = datetime.now(UTC).date()
    version = _build(settings, DOCS, day)
    publish_version(version, settings=settings)
    llm = RewordingLLM()
    deep = Answerer(encoder=get_encoder(), llm=llm, config=answer_config(settings, "deep"))
    seeds = Path(settings.data_dir) / "seeds.txt"
    seeds.write_text("What is the capital of France?\n")
    report = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=deep,
        redis_client=redis_client,
    )
    assert (report.written, report.judged, report.aliases) == (1, 3, 2)
    assert "2 of 3 judged paraphrases kept as aliases" in report.summary()
    cache = RedisAnswerCacheSync(redis_client)
    scope = deep.scope(version)
    original = cache.get_exact(scope, question_key_hash("What is the capital of France?"))
    assert original is not None
    assert original.alias_of is None
    for alias in ("What city is the capital of France?", "france's capital is what city"):
        entry = cache.get_exact(scope, question_key_hash(alias))
        assert entry is not None, alias
        assert entry.answer == original.answer
        assert entry.alias_of == original.normalized_key
        assert (entry.tier, entry.cited) == ("deep", original.cited)
    assert cache.get_exact(scope, question_key_hash("What is the capital of Germany?")) is None
    # a warm without the judge's LLM (no log-probabilities) writes no alias
    plain = warm_cache(
        settings=settings,
        run_date=day,
        questions_file=seeds,
        answerer=Answerer(encoder=get_encoder(), llm=EchoLLM(), config=answer_config(settings)),
        redis_client=redis_client,
    )
    assert (plain.judged, plain.aliases) == (0, 0)


def test_paraphrase_lines_are_parsed_and_bounded() -> None:
    from batch.expansion import parse_paraphrases

    text = '1) Where is it?\n\n* where is it\n- Where can it be found?\n"Who?"\nA B C?\nD E?'
    assert parse_paraphrases(text, "Where is the thing?", 3) == [
        "Where is it?",
        "Where can it be found?",
        "A B C?",
    ]
