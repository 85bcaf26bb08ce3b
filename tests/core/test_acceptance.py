from __future__ import annotations

import pytest

from core.matching.acceptance import learn_cut, upper_bound

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("wrong", "n", "expected"),
    [
        (0, 299, 0.00997),  # the "rule of three": 3/n
        (0, 100, 0.0295),
        (1, 100, 0.0466),  # exact Clopper-Pearson one-sided 95% bounds
        (5, 100, 0.1023),
    ],
)
def test_upper_bound_matches_clopper_pearson(wrong: int, n: int, expected: float) -> None:
    assert upper_bound(wrong, n) == pytest.approx(expected, abs=5e-4)


def test_upper_bound_edges_and_errors() -> None:
    assert upper_bound(0, 0) == 1.0
    assert upper_bound(3, 3) == 1.0
    with pytest.raises(ValueError, match=r"within 0\.\.n"):
        upper_bound(4, 3)


def test_too_little_evidence_certifies_no_cut() -> None:
    # 100 right outcomes and no wrong one bound the error at 3%, not 1%: nothing is accepted
    rule = learn_cut([(0.9 + i / 1000, True) for i in range(100)], delta=0.01)
    assert rule.cut is None
    assert not rule.accepts(0.99)
    assert rule.upper == pytest.approx(0.0295, abs=5e-4)
    assert "no cut certified" in rule.explain()


def test_the_cut_is_the_lowest_that_keeps_the_bound() -> None:
    right = [(0.5 + i / 1000, True) for i in range(400)]  # scores 0.500 .. 0.899
    wrong = [(0.3, False), (0.2, False), (0.5505, False)]
    rule = learn_cut(right + wrong, delta=0.01)
    # accepting down to 0.5505 takes one wrong outcome among ~350: bound above 1%; above it the
    # 349 right ones alone bound it at 0.86%
    assert rule.cut == pytest.approx(0.5505)
    assert rule.wrong == 0
    assert rule.accepted == 349
    assert rule.upper <= 0.01
    assert rule.accepts(0.551)
    assert not rule.accepts(0.5505)
    # a looser bound accepts the wrong outcome at 0.5505 too
    loose = learn_cut(right + wrong, delta=0.03)
    assert loose.cut is not None
    assert loose.cut < 0.5505
    assert loose.wrong >= 1


def test_ties_are_never_split() -> None:
    rule = learn_cut([(0.9, True)] * 400 + [(0.9, False)] * 10, delta=0.01)
    assert rule.cut is None  # the wrong ones share the right ones' score


def test_delta_must_be_a_rate() -> None:
    with pytest.raises(ValueError, match="delta"):
        learn_cut([], delta=0.0)
