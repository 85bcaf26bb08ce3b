"""The answer gate: a version may go live only if its generated answers are not worse.

The candidate answers a fixed, seeded sample of labelled questions (``settings.gate_answers`` of
the held-out half, :mod:`batch.answer_eval`) with the deep tier's model and prompt. Refused when
its F1 is significantly under the live version's on the same questions: a paired bootstrap of
the per-question F1 differences (from the live manifest when it recorded that sample, else
measured now) whose 95% interval lies wholly below zero. A fixed tolerance on 20 answers
refused noise and passed real drops alike. Also refused under the reference floor
(:mod:`batch.reference`) where one covers this labelled set, prompt and LLM. The figures and the
decision go into the candidate's manifest, one record per prompt version, LLM and sample, while
it has never been live.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from batch.answer_eval import AnswerEvalResult, evaluate_answers
from batch.answer_sample import DEFAULT_SEED, Half
from batch.index import store
from batch.reference import load_references
from core.index import read_live_version
from shared_schemas.manifest import AnswerQuality

if TYPE_CHECKING:
    from batch.settings import BatchSettings
    from core.answering import Answerer

log = logging.getLogger(__name__)

GATE_HALF: Half = "test"


@dataclass(frozen=True)
class AnswerGateDecision:
    version: str
    passed: bool
    reason: str
    result: AnswerEvalResult
    live_version: str | None = None
    live_f1: float | None = None
    floor_f1: float | None = None
    recorded: bool = False


def paired_interval(
    candidate: Sequence[float],
    live: Sequence[float],
    *,
    level: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean difference, low, high): the percentile bootstrap interval of the mean per-question
    difference ``candidate - live`` (same questions, same order), resampling questions."""
    if len(candidate) != len(live) or not candidate:
        raise ValueError("a paired comparison needs the same, non-empty list of questions")
    diffs = np.asarray(candidate, dtype=float) - np.asarray(live, dtype=float)
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, diffs.size, (resamples, diffs.size))].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(diffs.mean()), float(lo), float(hi)


def decide_answers(
    f1: float,
    *,
    live_f1: float | None,
    candidate_per_question: Sequence[float] = (),
    live_per_question: Sequence[float] = (),
    floor: float | None = None,
) -> tuple[bool, str]:
    """The pure rule (F1 in points): not under the floor, and not significantly under live (a
    paired bootstrap interval of the per-question differences wholly below zero)."""
    if floor is not None and f1 < floor:
        return False, f"answer F1 {f1:.2f} is under the reference floor {floor:.2f}"
    bound = f", floor {floor:.2f}" if floor is not None else ""
    if live_f1 is None or not live_per_question:
        return True, f"answer F1 {f1:.2f} (no live version to compare{bound})"
    diff, lo, hi = paired_interval(candidate_per_question, live_per_question)
    n = len(live_per_question)
    shown = f"{diff:+.2f} points, 95% interval [{lo:+.2f}, {hi:+.2f}], N {n}"
    if hi < 0:
        return False, (
            f"answer F1 {f1:.2f} is significantly under the live version's {live_f1:.2f} ({shown})"
        )
    return True, f"answer F1 {f1:.2f} not significantly under live {live_f1:.2f} ({shown}{bound})"


def record_answers(settings: BatchSettings, version: str, quality: AnswerQuality) -> bool:
    """Write ``quality`` into ``version``'s manifest unless it has been live; True if written."""
    if version in store.ever_live(settings.indexes_dir):
        log.warning("version %s has been live; its manifest stays as published", version)
        return False
    manifest = store.load_manifest(settings.indexes_dir, version)
    updated = manifest.quality.with_answers(quality)
    store.write_manifest(
        settings.indexes_dir / version, manifest.model_copy(update={"quality": updated})
    )
    return True


def _live_f1(
    live: str,
    candidate: AnswerEvalResult,
    *,
    settings: BatchSettings,
    labelled: Path,
    answerer: Answerer | None,
) -> tuple[float, tuple[float, ...]] | None:
    try:
        manifest = store.load_manifest(settings.indexes_dir, live)
    except Exception as exc:
        log.warning("live version %s unreadable, answer gate uses the floor only: %s", live, exc)
        return None
    recorded = manifest.quality.answer_record(candidate.to_quality())
    if recorded is not None and len(recorded.f1_per_question) == candidate.questions:
        return recorded.f1, recorded.f1_per_question
    measured = evaluate_answers(
        labelled,
        settings=settings,
        n=candidate.questions,
        seed=candidate.seed,
        half=candidate.half or None,  # type: ignore[arg-type]
        version=live,
        answerer=answerer,
    )
    return measured.f1, measured.f1_per_question


def check_answer_gate(
    version: str,
    *,
    settings: BatchSettings,
    labelled: Path,
    n: int | None = None,
    seed: int = DEFAULT_SEED,
    half: Half | None = GATE_HALF,
    answerer: Answerer | None = None,
) -> AnswerGateDecision:
    """Answer the sample on ``version``, compare with the floor and the live version."""
    from core.bootstrap import build_answerer

    labelled = Path(labelled)
    own = answerer is None
    used = answerer or build_answerer(settings, tier="deep")
    try:
        result = evaluate_answers(
            labelled,
            settings=settings,
            n=n or settings.gate_answers,
            seed=seed,
            half=half,
            version=version,
            answerer=used,
        )
        live = read_live_version(settings.indexes_dir)
        live_f1: float | None = None
        live_per_question: tuple[float, ...] = ()
        if live is not None and live != version:
            measured = _live_f1(live, result, settings=settings, labelled=labelled, answerer=used)
            if measured is not None:
                live_f1, live_per_question = measured
    finally:
        if own:
            used.llm.close()
    refs = load_references()
    ref = result.reference(labelled)
    floor = float(ref["f1"]) - refs.tolerance["f1"] if ref is not None else None
    passed, reason = decide_answers(
        result.f1,
        live_f1=live_f1,
        candidate_per_question=result.f1_per_question,
        live_per_question=live_per_question,
        floor=floor,
    )
    recorded = record_answers(
        settings, version, result.to_quality(gate_passed=passed, gate_reason=reason)
    )
    log.info("answer gate version=%s passed=%s reason=%s", version, passed, reason)
    return AnswerGateDecision(version, passed, reason, result, live, live_f1, floor, recorded)
