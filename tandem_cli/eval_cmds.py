"""``tandem eval``: retrieval recall of an index version, or (``--answers N``) the quality of
generated answers; ``--check`` compares with the reference figures stored in the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared_schemas.config import TIERS
from tandem_cli.common import console

if TYPE_CHECKING:
    from batch.answer_eval import AnswerEvalResult
    from batch.evaluate import EvalResult
    from batch.settings import BatchSettings

HALF_CHOICES = ("test", "tune", "all")


def eval_cmd(
    labelled: Annotated[
        Path | None,
        typer.Argument(help="SQuAD JSON(.gz) or JSONL {question, relevant_doc_ids}."),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Index version (default: the live one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dense_only: Annotated[
        bool, typer.Option("--dense-only", help="Evaluate without the lexical side.")
    ] = False,
    answers: Annotated[
        int | None,
        typer.Option(
            "--answers",
            min=1,
            max=10_000,
            help="Generate and score this many answers (SQuAD EM/F1) instead of recall.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the answer sample.")] = None,
    half: Annotated[
        str,
        typer.Option(help="Articles the answer sample is drawn from: test (held out), tune, all."),
    ] = "test",
    prompt_version: Annotated[
        str | None, typer.Option(help="Prompt version (default: TANDEM_PROMPT_VERSION).")
    ] = None,
    tier: Annotated[
        str, typer.Option(help="Whose model answers: fast (live answers) or deep (warm, refine).")
    ] = "fast",
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when a figure is more than its tolerance under the stored reference; "
            "exit 2 when no reference covers this labelled set and configuration.",
        ),
    ] = False,
) -> None:
    """Recall@1/5/10 and MRR (document level), or with --answers the answers' EM and F1."""
    from tandem_cli.batch_context import default_labelled as _default_labelled
    from tandem_cli.batch_context import errors as _errors
    from tandem_cli.batch_context import settings as _settings

    settings = _settings()
    if half not in HALF_CHOICES:
        raise typer.BadParameter(f"--half must be one of {', '.join(HALF_CHOICES)}")
    if tier not in TIERS:
        raise typer.BadParameter(f"--tier must be one of {', '.join(TIERS)}")
    with _errors():
        path = labelled or _default_labelled()
        if answers is not None:
            result = _answers(settings, path, answers, seed, half, version, prompt_version, tier)
            _print_answers(result, as_json)
            if check:
                _check_answers(result, path)
            return
        from batch.evaluate import evaluate

        retrieval = evaluate(path, settings=settings, version=version, lexical=not dense_only)
    if as_json:
        typer.echo(json.dumps(retrieval.as_json()))
    else:
        typer.echo(
            f"version {retrieval.version}  questions {retrieval.questions}  "
            f"recall@1 {retrieval.recall_at_1:.4f}  recall@5 {retrieval.recall_at_5:.4f}  "
            f"recall@10 {retrieval.recall_at_10:.4f}  mrr {retrieval.mrr:.4f}"
        )
    if check:
        _check_retrieval(retrieval, path)


def _answers(
    settings: BatchSettings,
    path: Path,
    n: int,
    seed: int | None,
    half: str,
    version: str | None,
    prompt_version: str | None,
    tier: str = "fast",
) -> AnswerEvalResult:
    from batch.answer_eval import evaluate_answers
    from batch.answer_sample import DEFAULT_SEED
    from batch.index.answer_gate import record_answers

    if prompt_version is not None:
        settings = settings.model_copy(
            update={"prompt_version": prompt_version, "deep_prompt_version": prompt_version}
        )
    result = evaluate_answers(
        path,
        settings=settings,
        n=n,
        seed=DEFAULT_SEED if seed is None else seed,
        half=None if half == "all" else half,  # type: ignore[arg-type]
        version=version,
        tier=tier,  # type: ignore[arg-type]
    )
    if not record_answers(settings, result.version, result.to_quality()):
        console.print(f"not recorded: {result.version} has been live (its manifest stays)")
    return result


def _print_answers(result: AnswerEvalResult, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    typer.echo(
        f"version {result.version}  prompt {result.prompt_version}  llm {result.llm_model}  "
        f"questions {result.questions} ({result.half or 'all'} half, seed {result.seed})  "
        f"tier {result.settings.get('tier', 'fast')}  "
        f"EM {result.exact_match:.2f} {list(result.interval('exact_match'))}  "
        f"F1 {result.f1:.2f} {list(result.interval('f1'))}  "
        f"contains gold {result.contains_gold:.3f}  cites gold {result.cited_gold:.3f}  "
        f"latency p50/p90/p99 {result.latency_ms(50):.0f}/{result.latency_ms(90):.0f}/"
        f"{result.latency_ms(99):.0f} ms  errors {result.errors}"
    )


def _verdict(failures: list[str], what: str) -> None:
    if failures:
        for line in failures:
            console.print(f"[red]below reference:[/red] {line}")
        raise typer.Exit(1)
    console.print(f"{what}: within the reference tolerances")


def _check_retrieval(result: EvalResult, path: Path) -> None:
    from batch.index.gate import reference_failures
    from batch.reference import dataset_of

    if dataset_of(path) is None:
        console.print(f"[red]no reference figures for {path.name}[/red]")
        raise typer.Exit(2)
    _verdict(reference_failures(result, path), "retrieval")


def _check_answers(result: AnswerEvalResult, path: Path) -> None:
    from batch.reference import below_floors, load_references

    refs = load_references()
    ref: dict[str, Any] | None = result.reference(path)
    if ref is None:
        console.print(
            f"[red]no reference answer figures for {path.name}, prompt "
            f"{result.prompt_version}, {result.llm_model}, {result.questions} questions "
            f"(seed {result.seed}, {result.half or 'all'} half)[/red]"
        )
        raise typer.Exit(2)
    measured = {"f1": result.f1, "exact_match": result.exact_match}
    reference = {m: float(ref[m]) for m in ("f1", "exact_match")}
    _verdict(below_floors(measured, reference, refs.tolerance), "answers")


def register(app: typer.Typer) -> None:
    app.command(
        "eval", help="Recall@k and MRR of the live index, or --answers N: answers' EM and F1."
    )(eval_cmd)
