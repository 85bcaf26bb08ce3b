"""``tandem eval --answers`` and the answer gate with the configured LLM backend (the bundled
SmolLM2 GGUF in process), on a two-article SQuAD slice: real encoder, FAISS, bm25, generation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from batch.index import store
from batch.index.answer_gate import check_answer_gate
from batch.index.publish import publish_version
from batch.labelled import iter_squad_paragraphs, read_squad
from batch.settings import BatchSettings, get_settings
from core.answering import Answerer
from core.bootstrap import answer_config, build_answerer
from core.index.writer import write_index_version
from core.llm.fake import FakeLLM
from shared_schemas.documents import Chunk
from tandem_cli import eval_cmds, index_cmds
from tests.batch.conftest import squad_slice, write_squad

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 4  # answers per measurement: small, the model is slow on CPU
COLS = ["chunk_id", "doc_id", "title", "text", "content_hash"]


@pytest.fixture
def slice_file(tmp_path: Path) -> Path:
    """Two articles, four paragraphs each: Super_Bowl_50 (tune half), the second (test half)."""
    return write_squad(tmp_path / "slice.json", squad_slice(8, per_article=4))


@pytest.fixture
def settings(
    data_dir: Path, redis_client: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BatchSettings]:
    monkeypatch.setenv("TANDEM_MAX_NEW_TOKENS", "24")
    monkeypatch.setenv("TANDEM_DEVICE", "cpu")
    monkeypatch.setenv("TANDEM_LLM_BACKEND", "local")  # the in-process GGUF, as verified
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _build(settings: BatchSettings, squad: Path, day: int, *, only_article: int | None) -> str:
    from core.encoder import get_encoder

    paras = list(iter_squad_paragraphs(read_squad(squad)))
    articles = sorted({p.article for p in paras}, key=[p.article for p in paras].index)
    if only_article is not None:  # an index that lost the other article's paragraphs
        paras = [p for p in paras if p.article == articles[only_article]]
    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paras]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in COLS})
    m = write_index_version(
        table,
        get_encoder().encode([c.text for c in chunks]),
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot="s",
        run_date=date(2024, 1, day),
    )
    return m.index_version


def test_eval_answers_cli_reports_squad_scores(settings: BatchSettings, slice_file: Path) -> None:
    app = typer.Typer()
    index_cmds.register(app)
    eval_cmds.register(app)
    version = _build(settings, slice_file, 1, only_article=None)
    args = ["eval", str(slice_file), "--answers", "2", "--version", version, "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert (out["questions"], out["errors"], out["half"], out["version"]) == (2, 0, "test", version)
    assert out["prompt_version"] == settings.prompt_version
    assert out["llm_model"] == settings.llm_model
    assert 0 <= out["exact_match"] <= out["f1"] <= 100
    assert 0 <= out["contains_gold"] <= 1
    assert out["cited_gold"] >= 0.5
    lat = out["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
    (record,) = store.load_manifest(settings.indexes_dir, version).quality.answers
    assert (record.prompt_version, record.llm_model, record.questions) == (
        settings.prompt_version,
        settings.llm_model,
        2,
    )
    assert record.f1 == pytest.approx(out["f1"], abs=0.01)
    # no reference figures exist for this slice: --check says so with exit code 2
    res = CliRunner().invoke(app, [*args[:-1], "--check"])
    assert res.exit_code == 2, res.output
    assert "no reference answer figures" in res.output


@pytest.fixture
def answerer(settings: BatchSettings) -> Iterator[Answerer]:
    used = build_answerer(settings)  # the configured backend (build_llm)
    yield used
    used.llm.close()


class OracleReader(FakeLLM):
    """Reads like a perfect model: answers with a gold answer that the passage shown holds,
    else "I do not know" (so an index that lost the gold paragraphs scores 0 on every one)."""

    def __init__(self, golds: dict[str, tuple[str, ...]]) -> None:
        super().__init__(model_id="oracle")
        self.golds = golds

    def generate(self, messages: list[Any], **kwargs: Any) -> str:
        self.calls += 1
        user = messages[-1]["content"]
        question = user.rsplit("Question:", 1)[1].strip()
        passages = user.rsplit("Question:", 1)[0]
        return next((g for g in self.golds.get(question, ()) if g in passages), "I do not know")


def test_gate_refuses_a_candidate_significantly_under_live(
    settings: BatchSettings, slice_file: Path
) -> None:
    """The paired gate on real retrieval: live's per-question F1 comes from its manifest, and a
    candidate that lost the test half's article is refused with its interval."""
    from batch.answer_sample import read_answer_questions
    from core.encoder import get_encoder

    golds = {q.question: q.answers for q in read_answer_questions(slice_file)}
    answerer = Answerer(
        encoder=get_encoder(), llm=OracleReader(golds), config=answer_config(settings, "deep")
    )
    good = _build(settings, slice_file, 1, only_article=None)
    first = check_answer_gate(good, settings=settings, labelled=slice_file, n=N, answerer=answerer)
    assert first.passed, first.reason
    assert first.live_f1 is None
    assert first.recorded
    assert first.result.f1 > 50.0, [r.answer for r in first.result.records]
    publish_version(good, settings=settings)

    # the same answers against live: not significantly under (no refusal for noise)
    same = _build(settings, slice_file, 3, only_article=None)
    kept = check_answer_gate(same, settings=settings, labelled=slice_file, n=N, answerer=answerer)
    assert kept.passed, kept.reason
    assert "not significantly under live" in kept.reason

    # the candidate lost the test half's article: its answers cannot find the gold paragraphs
    bad = _build(settings, slice_file, 2, only_article=0)
    decision = check_answer_gate(
        bad, settings=settings, labelled=slice_file, n=N, answerer=answerer
    )
    assert decision.live_f1 == pytest.approx(first.result.f1, abs=1e-3)  # from live's manifest
    assert decision.result.cited_gold == 0.0
    assert decision.result.f1 == 0.0
    assert not decision.passed
    assert "significantly under the live" in decision.reason
    assert f"N {N}" in decision.reason
    (record,) = store.load_manifest(settings.indexes_dir, bad).quality.answers
    assert record.gate_passed is False
    assert record.f1 == pytest.approx(decision.result.f1, abs=1e-3)
    assert (record.tier, len(record.f1_per_question)) == ("deep", N)
