"""One answer computation: warm (batch), refine (worker) and a live miss (service) store the
same cache entry for the same question and configuration, field by field."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from batch.hot_answers import warm_cache
from batch.settings import BatchSettings
from core.artifacts import LocalArtifactStore
from core.bootstrap import build_answerer
from core.cache.redis_sync import RedisAnswerCacheSync
from core.encoder import HashingEncoder
from core.index.trust import record_published
from core.index.writer import write_index_version
from core.llm.base import ChatMessage, GenerationStats
from online.app import create_app
from online.components import build_components
from online.refine.jobs import RefineJob
from online.refine.worker import RefineWorker, ensure_group, refine_answerer
from online.settings import OnlineSettings
from shared_schemas.cache import CacheEntry
from shared_schemas.hashing import chunk_id_for, content_hash, normalize_text, question_key_hash
from shared_schemas.layout import REFINE_STREAM
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration

QUESTION = "Who won Super Bowl 50?"
EMBED = "tandem/hashing-encoder"
DOCS = [
    ("sb50", "Super Bowl 50", "The Denver Broncos won Super Bowl 50 in February 2016."),
    ("sb49", "Super Bowl 49", "The New England Patriots won Super Bowl 49 in February 2015."),
    ("paris", "Paris", "Paris is the capital of France."),
]


class PromptDigestLLM:
    """Answers with a digest of the whole prompt: any difference in context or prompt shows."""

    model_id = "digest-llm"

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> str:
        text = "\n".join(f"{m['role']}:{m['content']}" for m in messages)
        if stats is not None:
            stats.tokens = 1
        return "answer-" + hashlib.sha256(text.encode()).hexdigest()[:16]

    def stream(self, messages: list[ChatMessage], **kw: Any) -> Iterator[str]:
        yield self.generate(messages, max_new_tokens=kw.get("max_new_tokens", 8))

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        return None


@pytest.fixture
def published(data_dir: Path) -> str:
    encoder = HashingEncoder()
    rows: dict[str, list[str]] = {
        c: [] for c in ("chunk_id", "doc_id", "title", "text", "content_hash")
    }
    for doc_id, title, text in DOCS:
        for c, v in zip(
            rows,
            (chunk_id_for(doc_id, normalize_text(text)), doc_id, title, text, content_hash(text)),
            strict=True,
        ):
            rows[c].append(v)
    manifest = write_index_version(
        pa.table(rows),
        encoder.encode(rows["text"]),
        indexes_dir=data_dir / "indexes",
        embedding_model=EMBED,
        source_snapshot="test",
        run_date=date(2024, 1, 1),
    )
    record_published(data_dir / "indexes", manifest.index_version)
    LocalArtifactStore(data_dir / "indexes").write_live(manifest.index_version)
    return manifest.index_version


def _comparable(entry: CacheEntry | None) -> dict[str, Any]:
    assert entry is not None
    return entry.model_dump(exclude={"origin", "created_at", "expires_at"})


def test_warm_refine_and_live_store_identical_entries(
    data_dir: Path, published: str, redis_client: Any, tmp_path: Path
) -> None:
    common: dict[str, Any] = {
        "data_dir": data_dir,
        "redis_url": TEST_REDIS_URL,
        "embedding_model": EMBED,
        "encoder_backend": "torch",  # EMBED names the hashing encoder itself, no backend suffix
        "device": "cpu",
        "top_k": 2,
    }
    # the refine path configured like the live one, so the three answers must coincide
    online = OnlineSettings(
        **common, refine_top_k=2, refine_max_new_tokens=64, refine_context_chars=700
    )
    encoder, llm = HashingEncoder(), PromptDigestLLM()
    store = RedisAnswerCacheSync(redis_client)
    qhash = question_key_hash(QUESTION)

    components = build_components(online, encoder=encoder, llm=llm)
    with TestClient(create_app(online, components=components)) as client:
        body = client.post("/v1/query", json={"question": QUESTION}).json()
    assert body["cache"] == "miss"
    assert body["index_version"] == published
    scope = build_answerer(online, encoder=encoder, llm=llm).scope(published)
    live = store.get_exact(scope, qhash)
    assert live is not None
    assert live.origin == "live"
    store.purge(scope)

    seeds = tmp_path / "seeds.txt"
    seeds.write_text(QUESTION + "\n")
    batch = BatchSettings(**common)
    warm_cache(
        settings=batch,
        run_date=datetime.now(UTC).date(),
        questions_file=seeds,
        answerer=build_answerer(batch, encoder=encoder, llm=llm),
        redis_client=redis_client,
    )
    warmed = store.get_exact(scope, qhash)
    assert warmed is not None
    assert warmed.origin == "batch"
    store.purge(scope)

    ensure_group(redis_client)
    redis_client.xadd(REFINE_STREAM, {"job": RefineJob(question=QUESTION).model_dump_json()})
    answerer = refine_answerer(online, build_answerer(online, encoder=encoder, llm=llm))
    worker = RefineWorker(settings=online, redis=redis_client, answerer=answerer, consumer="t")
    assert worker.run(max_jobs=1).done == 1
    refined = store.get_exact(scope, qhash)
    assert refined is not None
    assert refined.origin == "refined"

    assert _comparable(live) == _comparable(warmed) == _comparable(refined)
    assert live.answer.startswith("answer-")
    assert len(live.cited) == 2
