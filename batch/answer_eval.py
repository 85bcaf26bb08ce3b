"""Generated answers, measured: ``tandem eval --answers N``.

A fixed, seeded sample of labelled SQuAD questions is answered through the service's own answer
computation (:meth:`core.answering.Answerer.answer_once`: embed → hybrid search → prompt →
generate, with the configured LLM backend from ``build_llm``), and each answer is scored with the
official SQuAD normalisation (:mod:`batch.answer_metrics`). Reported: exact match and token F1
(points, 0-100), the share of answers containing a gold answer, the share whose cited sources
(the hits returned with the answer) contain the gold paragraph, and latency percentiles of the
whole computation. A question whose generation fails scores 0 and is counted in ``errors``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from batch.answer_metrics import best_scores
from batch.answer_sample import DEFAULT_SEED, AnswerQuestion, Half
from shared_schemas.config import Tier
from shared_schemas.manifest import AnswerQuality

if TYPE_CHECKING:
    from batch.settings import BatchSettings
    from core.answering import Answerer, VectorIndex

log = logging.getLogger(__name__)

LATENCY_PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class AnswerRecord:
    question: str
    golds: tuple[str, ...]
    gold_doc_id: str
    answer: str
    exact: bool
    f1: float  # 0-1
    contains_gold: bool
    cited_gold: bool
    latency_ms: float
    error: str = ""


@dataclass(frozen=True)
class AnswerEvalResult:
    version: str
    prompt_version: str
    llm_model: str
    labelled_set: str
    seed: int
    half: str
    records: tuple[AnswerRecord, ...]
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)  # top_k, max_new_tokens, ...
    llm_engine: str = ""  # the backend class that generated (same model id, other numerics)

    @property
    def questions(self) -> int:
        return len(self.records)

    @property
    def errors(self) -> int:
        return sum(1 for r in self.records if r.error)

    def _mean(self, values: list[float]) -> float:
        return float(np.mean(values)) if values else 0.0

    @property
    def exact_match(self) -> float:
        return 100.0 * self._mean([float(r.exact) for r in self.records])

    @property
    def f1(self) -> float:
        return 100.0 * self._mean([r.f1 for r in self.records])

    @property
    def contains_gold(self) -> float:
        return self._mean([float(r.contains_gold) for r in self.records])

    @property
    def cited_gold(self) -> float:
        return self._mean([float(r.cited_gold) for r in self.records])

    def latency_ms(self, q: float) -> float:
        lat = [r.latency_ms for r in self.records]
        return float(np.percentile(lat, q)) if lat else 0.0

    def interval(self, metric: str, *, level: float = 0.95) -> tuple[float, float]:
        """The bootstrap percentile interval (2,000 resamples of the questions, seeded) of
        ``exact_match`` or ``f1``, in points."""
        values = np.array(
            [float(r.exact) if metric == "exact_match" else r.f1 for r in self.records]
        )
        if values.size == 0:
            return (0.0, 0.0)
        rng = np.random.default_rng(self.seed)
        means = values[rng.integers(0, values.size, (2000, values.size))].mean(axis=1)
        lo, hi = np.percentile(means, [50 * (1 - level), 100 - 50 * (1 - level)])
        return (round(100.0 * float(lo), 2), round(100.0 * float(hi), 2))

    def as_json(self) -> dict[str, Any]:
        """The ``tandem eval --answers N --json`` object."""
        return {
            "exact_match": round(self.exact_match, 2),
            "exact_match_ci95": list(self.interval("exact_match")),
            "f1": round(self.f1, 2),
            "f1_ci95": list(self.interval("f1")),
            "contains_gold": round(self.contains_gold, 4),
            "cited_gold": round(self.cited_gold, 4),
            "latency_ms": {f"p{int(q)}": round(self.latency_ms(q), 1) for q in LATENCY_PERCENTILES},
            "questions": self.questions,
            "errors": self.errors,
            "version": self.version,
            "prompt_version": self.prompt_version,
            "llm_model": self.llm_model,
            "llm_engine": self.llm_engine,
            "labelled_set": self.labelled_set,
            "seed": self.seed,
            "half": self.half or "all",
            "seconds": round(self.seconds, 1),
            **self.settings,
        }

    def reference(self, labelled: Path) -> dict[str, Any] | None:
        """The stored reference figures of this very sample and configuration, if any."""
        from batch.reference import answer_reference

        return answer_reference(
            labelled,
            prompt_version=self.prompt_version,
            llm_model=self.llm_model,
            questions=self.questions,
            seed=self.seed,
            half=self.half,
            llm_engine=self.llm_engine,
        )

    def to_quality(
        self, *, gate_passed: bool | None = None, gate_reason: str = ""
    ) -> AnswerQuality:
        return AnswerQuality(
            prompt_version=self.prompt_version,
            llm_model=self.llm_model,
            labelled_set=self.labelled_set,
            questions=self.questions,
            seed=self.seed,
            half=self.half,
            exact_match=round(self.exact_match, 4),
            f1=round(self.f1, 4),
            contains_gold=round(self.contains_gold, 6),
            cited_gold=round(self.cited_gold, 6),
            latency_ms_p50=round(self.latency_ms(50), 3),
            latency_ms_p90=round(self.latency_ms(90), 3),
            latency_ms_p99=round(self.latency_ms(99), 3),
            gate_passed=gate_passed,
            gate_reason=gate_reason,
            f1_per_question=self.f1_per_question,
            tier=str(self.settings.get("tier")) if self.settings.get("tier") else None,
        )

    @property
    def f1_per_question(self) -> tuple[float, ...]:
        return tuple(round(100.0 * r.f1, 2) for r in self.records)


def answer_one(answerer: Answerer, index: VectorIndex, q: AnswerQuestion) -> AnswerRecord:
    """One question through :meth:`Answerer.answer_once`, scored."""
    t0 = time.perf_counter()
    try:
        computed = answerer.answer_once(q.question, index)
    except Exception as exc:  # an LLM error scores 0; the run goes on
        log.warning("answer failed question=%r error=%s", q.question, exc)
        return AnswerRecord(
            q.question, q.answers, q.doc_id, "", False, 0.0, False, False,
            1000.0 * (time.perf_counter() - t0), error=str(exc) or type(exc).__name__,
        )  # fmt: skip
    latency = 1000.0 * (time.perf_counter() - t0)
    exact, f1, contains = best_scores(computed.answer, q.answers)
    cited = any(h.doc_id == q.doc_id for h in computed.hits)
    return AnswerRecord(
        q.question, q.answers, q.doc_id, computed.answer, exact, f1, contains, cited, latency
    )


def evaluate_answers_on(
    answerer: Answerer,
    index: VectorIndex,
    questions: list[AnswerQuestion],
    *,
    labelled_set: str = "",
    seed: int = DEFAULT_SEED,
    half: Half | None = None,
) -> AnswerEvalResult:
    """Answer and score ``questions`` against one loaded index."""
    t0 = time.perf_counter()
    done: list[AnswerRecord] = []
    last = t0
    for q in questions:
        done.append(answer_one(answerer, index, q))
        now = time.perf_counter()
        if now - last >= 15.0 or len(done) == len(questions):
            last = now
            log.info(
                "answers: %d/%d, EM %.1f, F1 %.1f so far, %.0f s",
                len(done),
                len(questions),
                100.0 * sum(r.exact for r in done) / len(done),
                100.0 * sum(r.f1 for r in done) / len(done),
                now - t0,
            )
    records = tuple(done)
    cfg = answerer.config
    result = AnswerEvalResult(
        version=index.version,
        prompt_version=cfg.generating_prompt,
        llm_model=answerer.llm.model_id,
        labelled_set=labelled_set,
        seed=seed,
        half=half or "",
        records=records,
        seconds=time.perf_counter() - t0,
        settings={"top_k": cfg.top_k, "max_new_tokens": cfg.max_new_tokens, "tier": cfg.tier},
        llm_engine=type(answerer.llm).__name__,
    )
    log.info(
        "answers version=%s prompt=%s llm=%s n=%d em=%.2f f1=%.2f errors=%d",
        result.version,
        result.prompt_version,
        result.llm_model,
        result.questions,
        result.exact_match,
        result.f1,
        result.errors,
    )
    return result


def evaluate_answers(
    labelled: Path,
    *,
    settings: BatchSettings,
    n: int,
    seed: int = DEFAULT_SEED,
    half: Half | None = None,
    version: str | None = None,
    answerer: Answerer | None = None,
    tier: Tier = "fast",
) -> AnswerEvalResult:
    """EM/F1 of ``n`` generated answers on a version (default: the live one), with the answerer
    the settings configure for ``tier`` (the service's encoder, that tier's LLM, the prompt
    version, top_k)."""
    from batch.answer_sample import read_answer_questions, sample_questions
    from batch.evaluate import EvalError, resolve_version
    from batch.labelled import LabelledSetError
    from core.bootstrap import build_answerer
    from core.index import load_index

    name = resolve_version(version, settings=settings)
    version_dir = settings.indexes_dir / name
    if not version_dir.is_dir():
        raise EvalError(f"index version {name} does not exist under {settings.indexes_dir}")
    try:
        sample = sample_questions(read_answer_questions(Path(labelled)), n, seed=seed, half=half)
    except (LabelledSetError, ValueError) as exc:
        raise EvalError(str(exc)) from exc
    index = load_index(version_dir, expected_model=settings.embedding_model)
    own = answerer is None
    used = answerer or build_answerer(settings, tier=tier)
    try:
        return evaluate_answers_on(
            used, index, sample, labelled_set=Path(labelled).name, seed=seed, half=half
        )
    finally:
        if own:
            used.llm.close()
