"""`tandem eval` and `tandem index …` through the CLI on a small SQuAD slice."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from batch.labelled import iter_squad_paragraphs, read_labelled, read_squad
from batch.settings import BatchSettings, get_settings
from core.index.writer import write_index_version
from shared_schemas.documents import Chunk
from tandem_cli import eval_cmds, index_cmds
from tests.batch.conftest import squad_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_PARAS = 25


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    index_cmds.register(app)
    eval_cmds.register(app)
    return app


@pytest.fixture
def squad_slice(tmp_path: Path) -> Path:
    """A SQuAD file with the first paragraphs of the first article, two questions each."""
    data = read_squad(squad_path())
    article = dict(data["data"][0])
    article["paragraphs"] = [{**p, "qas": p["qas"][:2]} for p in article["paragraphs"][:N_PARAS]]
    path = tmp_path / "slice.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"data": [article], "version": "1.1"}).encode()))
    return path


@pytest.fixture
def settings(
    data_dir: Path, redis_client: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BatchSettings]:
    # the retrieval gate only, unless a test asks for the answer gate
    monkeypatch.setenv("TANDEM_GATE_ANSWERS", "0")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _build(settings: BatchSettings, squad: Path, rows: int, day: int) -> str:
    from core.encoder import get_encoder

    paras = list(iter_squad_paragraphs(read_squad(squad)))[:rows]
    chunks = [Chunk(doc_id=p.doc_id, ordinal=0, title=p.title, text=p.text) for p in paras]
    cols = ["chunk_id", "doc_id", "title", "text", "content_hash"]
    table = pa.table({c: [getattr(ch, c) for ch in chunks] for c in cols})
    vecs = get_encoder().encode([c.text for c in chunks])
    m = write_index_version(
        table,
        vecs,
        indexes_dir=settings.indexes_dir,
        embedding_model=settings.embedding_model,
        source_snapshot="s",
        run_date=date(2024, 1, day),
    )
    return m.index_version


def test_squad_and_jsonl_labelled_sets(squad_slice: Path, tmp_path: Path) -> None:
    qs = read_labelled(squad_slice)
    assert len(qs) == 2 * N_PARAS
    assert qs[0].relevant_doc_ids == frozenset({"Super_Bowl_50#0"})
    jl = tmp_path / "gold.jsonl"
    jl.write_text('{"question": "q?", "relevant_doc_ids": ["a", "b"]}\n\n')
    assert read_labelled(jl)[0].relevant_doc_ids == frozenset({"a", "b"})
    jl.write_text('{"question": "q?"}\n')
    from batch.labelled import LabelledSetError

    with pytest.raises(LabelledSetError, match=r"gold\.jsonl:1"):
        read_labelled(jl)


def test_eval_publish_list_rollback_cli(
    app: typer.Typer, settings: BatchSettings, squad_slice: Path
) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(squad_slice), "--json"])
    assert res.exit_code == 1
    assert "no live index" in res.output

    v1 = _build(settings, squad_slice, N_PARAS, 1)
    res = runner.invoke(app, ["index", "publish", v1, "--labelled", str(squad_slice)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["eval", str(squad_slice), "--json"])
    assert res.exit_code == 0, res.output
    figures = json.loads(res.stdout.strip().splitlines()[-1])
    assert figures["questions"] == 2 * N_PARAS
    assert figures["version"] == v1
    assert figures["recall@5"] >= 0.9
    assert figures["recall@1"] <= figures["recall@5"] <= figures["recall@10"]
    assert 0 < figures["mrr"] <= 1

    v2 = _build(settings, squad_slice, N_PARAS - 1, 2)
    res = runner.invoke(app, ["index", "publish", v2, "--skip-gate"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["index", "list", "--json"])
    rows = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert {r["version"]: (r["live"], r["previous"]) for r in rows} == {
        v1: (False, True),
        v2: (True, False),
    }
    res = runner.invoke(app, ["index", "rollback"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["eval", str(squad_slice), "--json", "--version", v2])
    assert json.loads(res.stdout.strip().splitlines()[-1])["version"] == v2
    res = runner.invoke(app, ["index", "list"])
    assert f"* {v1}" in res.stdout


def test_cli_publish_refuses_what_the_answer_gate_refuses_and_never_rolls_back(
    app: typer.Typer,
    settings: BatchSettings,
    squad_slice: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 25: ``tandem index publish`` ran the retrieval gate only and had no date guard;
    the DAG ran both gates and never published an older version over a newer live one. Both
    now call ``batch/index/gates.py``. (The answer gate's own decision is tested in
    tests/batch/test_answer_gate.py; here it is scripted to refuse.)"""
    from batch.index import gates
    from batch.index.answer_gate import AnswerGateDecision

    asked: list[str] = []

    def refusing(version: str, **_: object) -> AnswerGateDecision:
        asked.append(version)
        return AnswerGateDecision(
            version, False, "F1 dropped 12.0 points [-18.0, -6.0]", None, None, None, None, False
        )  # type: ignore[arg-type]

    monkeypatch.setattr(gates, "check_answer_gate", refusing)
    get_settings.cache_clear()
    monkeypatch.setenv("TANDEM_GATE_ANSWERS", "2")
    runner = CliRunner()
    v2 = _build(settings, squad_slice, N_PARAS, 2)
    res = runner.invoke(app, ["index", "publish", v2, "--labelled", str(squad_slice)])
    assert res.exit_code == 1, res.output
    assert "answer gate refused" in res.output
    assert asked == [v2]  # the retrieval gate passed first
    res = runner.invoke(app, ["index", "list", "--json"])
    assert not any(json.loads(line)["live"] for line in res.stdout.strip().splitlines())

    # the operator overrides it: live
    res = runner.invoke(app, ["index", "publish", v2, "--force"])
    assert res.exit_code == 0, res.output
    # a backfill of an earlier date does not roll the live version back ...
    v1 = _build(settings, squad_slice, N_PARAS - 1, 1)
    res = runner.invoke(app, ["index", "publish", v1, "--skip-gate"])
    assert res.exit_code == 1
    assert "later date" in res.output
    live = [
        json.loads(line)
        for line in runner.invoke(app, ["index", "list", "--json"]).stdout.strip().splitlines()
    ]
    assert [r["version"] for r in live if r["live"]] == [v2]
    # ... unless asked to
    res = runner.invoke(app, ["index", "publish", v1, "--skip-gate", "--force"])
    assert res.exit_code == 0, res.output
