"""Answer scores (official SQuAD normalisation), the seeded sample, the answer gate's rule and
the reference figures: pure logic on real inputs (the SQuAD dev set, the stored reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from batch.answer_metrics import best_scores, contains_gold, normalize_answer, token_f1
from batch.answer_sample import read_answer_questions, sample_questions
from batch.index.answer_gate import decide_answers, paired_interval
from batch.reference import (
    RETRIEVAL_METRICS,
    answer_reference,
    below_floors,
    dataset_of,
    load_references,
    retrieval_floors,
)
from shared_schemas.manifest import AnswerQuality, QualityMetrics
from tests.conftest import squad_path

pytestmark = pytest.mark.unit


def test_official_normalisation_and_scores() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert token_f1("Denver Broncos", "the Denver Broncos") == 1.0
    assert token_f1("the Carolina Panthers", "Denver Broncos") == 0.0
    assert token_f1("Denver Broncos won", "Denver Broncos") == pytest.approx(0.8)
    assert contains_gold("It was the Denver Broncos.", "Denver Broncos")
    assert not contains_gold("Denverite Broncos", "Denver")  # whole tokens only
    exact, f1, contains = best_scores("Santa Clara", ["Levi's Stadium", "Santa Clara, California"])
    assert (exact, contains) == (False, False)
    assert f1 == pytest.approx(0.8)
    assert best_scores("At Santa Clara, in Levi's Stadium", ["Levi's Stadium"])[2] is True
    assert best_scores("anything", []) == (False, 0.0, False)


def test_sample_is_seeded_and_halves_split_articles() -> None:
    questions = read_answer_questions(squad_path())
    assert len(questions) == 10570
    tune = {q.article for q in questions if q.half == "tune"}
    test = {q.article for q in questions if q.half == "test"}
    assert len(tune) == len(test) == 24
    assert not tune & test
    a = sample_questions(questions, 50, seed=3, half="test")
    assert a == sample_questions(questions, 50, seed=3, half="test")
    assert a != sample_questions(questions, 50, seed=4, half="test")
    assert {q.half for q in a} == {"test"}
    assert len(sample_questions(questions, 10**6, half="tune")) == sum(
        q.half == "tune" for q in questions
    )


def test_answer_gate_refuses_only_a_significant_paired_drop() -> None:
    rng = np.random.default_rng(7)
    live = [float(x) for x in rng.choice([0.0, 50.0, 100.0], size=200)]
    # the same answers: no drop
    assert decide_answers(50.0, live_f1=50.0, candidate_per_question=live, live_per_question=live)[
        0
    ]
    # a few questions lost (noise): not significant on 200 questions
    noisy = list(live)
    for i in (3, 9):
        noisy[i] = 0.0
    assert decide_answers(49.0, live_f1=50.0, candidate_per_question=noisy, live_per_question=live)[
        0
    ]
    # every fourth question lost: a real drop, refused with its interval
    worse = [0.0 if i % 4 == 0 else v for i, v in enumerate(live)]
    passed, reason = decide_answers(
        float(np.mean(worse)), live_f1=50.0, candidate_per_question=worse, live_per_question=live
    )
    assert passed is False
    assert "significantly under the live" in reason
    assert "N 200" in reason
    # the same mean drop on 20 unpaired-looking questions is not enough evidence
    few = live[:20]
    one_lost = [0.0 if i == 0 else v for i, v in enumerate(few)]
    assert decide_answers(
        40.0, live_f1=45.0, candidate_per_question=one_lost, live_per_question=few
    )[0]
    assert decide_answers(30.0, live_f1=None, floor=31.0)[0] is False
    assert decide_answers(31.0, live_f1=None, floor=31.0)[0] is True
    diff, lo, hi = paired_interval([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert diff == lo == hi == 0.0
    with pytest.raises(ValueError, match="same"):
        paired_interval([1.0], [1.0, 2.0])


def test_manifest_keeps_one_answer_record_per_prompt_llm_and_sample() -> None:
    def rec(prompt: str, f1: float, n: int = 300) -> AnswerQuality:
        return AnswerQuality(
            prompt_version=prompt, llm_model="m", questions=n, exact_match=0, f1=f1,
            contains_gold=0, cited_gold=0,
        )  # fmt: skip

    q = QualityMetrics().with_answers(rec("p3", 20)).with_answers(rec("p4", 30))
    q = q.with_answers(rec("p3", 25)).with_answers(rec("p3", 10, n=20))
    assert sorted((a.prompt_version, a.questions, a.f1) for a in q.answers) == [
        ("p3", 20, 10), ("p3", 300, 25), ("p4", 300, 30),
    ]  # fmt: skip
    found = q.answer_record(rec("p3", 0))
    assert found is not None
    assert found.f1 == 25
    assert q.answer_record(rec("p9", 0)) is None
    assert QualityMetrics.model_validate_json(q.model_dump_json()) == q


def test_reference_floors_are_measured_figures_minus_stated_tolerances(tmp_path: Path) -> None:
    refs = load_references()
    assert refs.tolerance["f1"] == 2.0
    assert dataset_of(squad_path()) == "squad-v1.1-dev"
    other = tmp_path / "other.json"
    other.write_text('{"data": []}')
    assert dataset_of(other) is None
    assert retrieval_floors(other) == {}
    floors = retrieval_floors(squad_path())
    assert set(floors) == set(RETRIEVAL_METRICS)
    figures = refs.retrieval["squad-v1.1-dev"]
    for metric, floor in floors.items():
        assert floor == pytest.approx(figures[metric] - refs.tolerance[metric])
    assert floors["recall_at_5"] > 0.9  # not the old 0.5 floor
    measured = dict(figures)
    assert below_floors(measured, figures, refs.tolerance) == []
    measured["recall_at_5"] = figures["recall_at_5"] - refs.tolerance["recall_at_5"] - 0.001
    assert [line.split()[0] for line in below_floors(measured, figures, refs.tolerance)] == [
        "recall_at_5"
    ]
    for rec in refs.answers:  # every stored answer figure is findable by its own sample
        assert (
            answer_reference(
                squad_path(),
                prompt_version=rec["prompt_version"],
                llm_model=rec["llm_model"],
                questions=rec["questions"],
                seed=rec["seed"],
                half=rec["half"],
                llm_engine=rec.get("llm_engine", ""),
            )
            == rec
        )
