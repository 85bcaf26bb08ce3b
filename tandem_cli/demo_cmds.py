"""``tandem demo``: the main job end to end on the SQuAD demo corpus, then the API answering."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.table import Table

from tandem_cli.common import console, setup

DEMO_QUESTIONS = [
    "Which NFL team represented the AFC at Super Bowl 50?",
    "Where did Super Bowl 50 take place?",
    "What is the name of the force that opposes motion between two surfaces?",
]


_STEPS: list[tuple[str, float]] = []  # (title, started at): the step timings printed at the end


def _step(n: int, title: str) -> None:
    _STEPS.append((f"{n} {title}", time.monotonic()))
    console.rule(f"[bold cyan]step {n}: {title}")


def _step_times(finished: float) -> str:
    ends = [t for _, t in _STEPS[1:]] + [finished]
    return ", ".join(f"{name} {end - t:.0f} s" for (name, t), end in zip(_STEPS, ends, strict=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tandem serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a subprocess for readiness
    raise RuntimeError(f"server at {url} not ready after {timeout_s:.0f} s")


def demo(
    limit_docs: int = typer.Option(0, help="Use only the first N paragraphs (0: all)."),
    run_date: str = typer.Option("", "--date", help="Snapshot date (default: today, UTC)."),
) -> None:
    """Run ingest → embed → build → eval → publish → warm on SQuAD, then ask the API."""
    from batch.corpus import locate_demo_corpus
    from batch.settings import get_settings

    settings = get_settings()
    setup(settings)
    day = date.fromisoformat(run_date) if run_date else datetime.now(UTC).date()
    started = time.monotonic()
    _STEPS.clear()

    _step(1, "demo corpus")
    corpus = locate_demo_corpus(settings.demo_corpus, data_dir=settings.data_dir)
    console.print(f"SQuAD v1.1 dev at {corpus}")
    source = corpus
    if limit_docs:
        source = _slice_squad(corpus, limit_docs, settings.data_dir / "corpus" / "demo-slice.json")
        console.print(f"using the first {limit_docs} paragraphs: {source}")

    from batch.ingest.run import ingest

    _step(2, "ingest")
    report = ingest(source, run_date=day, settings=settings)
    console.print(_summary(report))

    from batch.embed.run import embed_snapshot

    _step(3, "embed (PySpark)")
    console.print(_summary(embed_snapshot(day, settings=settings)))

    from batch.index.build import build_index

    _step(4, "build index")
    manifest = build_index(day, settings=settings)
    console.print(
        f"version {manifest.index_version}: {manifest.vector_count} vectors, "
        f"factory {manifest.faiss_factory}, lexical {manifest.lexical}"
    )

    from batch.index.gate import check_gate

    _step(5, "evaluate and gate")
    decision = check_gate(manifest.index_version, settings=settings, labelled=source)
    r = decision.result
    console.print(
        f"{r.questions} questions: recall@1 {r.recall_at_1:.4f}, recall@5 {r.recall_at_5:.4f}, "
        f"recall@10 {r.recall_at_10:.4f}, MRR {r.mrr:.4f}; gate: {decision.reason}"
    )
    if not decision.passed:
        console.print("[red]quality gate refused the publish; stopping[/red]")
        raise typer.Exit(1)

    from batch.index.publish import publish_version

    _step(6, "publish")
    live = publish_version(manifest.index_version, settings=settings).manifest
    console.print(f"live version: {live.index_version}")

    _step(7, f"warm the hot-answer cache (deep tier: {settings.deep_llm_model})")
    seeds = settings.data_dir / "corpus" / "demo-questions.txt"
    seeds.parent.mkdir(parents=True, exist_ok=True)
    seeds.write_text("\n".join(DEMO_QUESTIONS[:2]) + "\n")
    from batch.hot_answers import warm_cache

    warmed = warm_cache(settings=settings, run_date=day, questions_file=seeds, version=None)
    console.print(_summary(warmed))

    _step(8, f"online API (fast tier: {settings.llm_model})")
    _ask_server(DEMO_QUESTIONS)
    finished = time.monotonic()
    console.print(f"steps: {_step_times(finished)}")
    console.print(f"[green]demo finished in {finished - started:.0f} s[/green]")


def _summary(report: object) -> object:
    summary = getattr(report, "summary", None)
    return summary() if callable(summary) else report


def _slice_squad(corpus: Path, n: int, out: Path) -> Path:
    from batch.corpus import read_bytes

    data = json.loads(read_bytes(corpus))
    kept, left = [], n
    for article in data["data"]:
        if left <= 0:
            break
        paras = article["paragraphs"][:left]
        left -= len(paras)
        kept.append({**article, "paragraphs": paras})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": kept, "version": data.get("version", "1.1")}))
    return out


def _ask_server(questions: list[str]) -> None:
    import httpx

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "tandem_cli.main", "serve", "--port", str(port)]
    console.print(f"starting {' '.join(cmd[2:])}")
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    try:
        t0 = time.monotonic()
        _wait_ready(url, proc, timeout_s=180)
        console.print(f"service ready in {time.monotonic() - t0:.1f} s")
        table = Table("question", "cache", "tier", "answer", "top source", "ms")
        for q in questions:
            r = httpx.post(f"{url}/v1/query", json={"question": q}, timeout=120)
            body = r.json()
            src = body.get("sources") or [{}]
            models = body.get("models") or {}
            table.add_row(
                q,
                str(body.get("cache")),
                f"{models.get('tier', '?')} ({models.get('llm', '?')})",
                str(body.get("answer")),
                str(src[0].get("title", "")),
                f"{(body.get('timings_ms') or {}).get('total', 0):.0f}",
            )
        console.print(table)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def register(app: typer.Typer) -> None:
    app.command("demo", help="Run the main job end to end on SQuAD, then ask the online API.")(demo)
