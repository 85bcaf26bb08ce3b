from __future__ import annotations

import pytest

from core.matching.signature import question_signature, signatures_agree


def test_numbers_and_entities_are_extracted() -> None:
    sig = question_signature("Which NFL team won Super Bowl 50 in 2016?")
    assert sig.numbers == {"50", "2016"}
    assert {"nfl", "super", "bowl"} <= sig.entities
    assert "which" not in sig.entities


@pytest.mark.parametrize(
    ("a", "b", "agree"),
    [
        ("Who won Super Bowl 50?", "Who was the winner of Super Bowl 50?", True),
        ("Who won Super Bowl 50?", "Who won Super Bowl 49?", False),
        ("How many people live in Paris?", "How many people live in Berlin?", False),
        ("What happened in three years?", "What happened in 3 years?", True),
        ("Which was the 1st album?", "Which was the first album?", True),
        ("What is 1,000 times two?", "What is 1000 times 2?", True),
        ("Denver won what?", "What did Denver win?", True),
        ("What did Tesla invent?", "What did Edison invent?", False),
        ("Who founded the Muslim Brotherhood?", "When was the Muslim Brotherhood founded?", False),
        ("In what year did Tesla leave?", "When did Tesla leave?", True),
        ("What percentage of students passed?", "How many students passed?", False),
        ("What dynasty came after the Yuan?", "What dynasty came before the Yuan?", False),
        ("Which part had people ranked lower?", "Which part had people ranked higher?", False),
        ("What trade helps poorer countries?", "What trade helps rich countries?", False),
        # an opening condition is not what is asked
        (
            "When a plant is injured, what can become proplastids?",
            "What can become proplastids when a plant is injured?",
            True,
        ),
        ("If it rains, who closes the gate?", "Who closes the gate?", True),
        ("When a plant is injured, what can become proplastids?", "When is it injured?", False),
        # "what is the name of the X" asks what "which X" asks
        ("What is the name of the state it borders?", "Which state does it border?", True),
        ("What was the name of the year it opened?", "When did it open?", True),
        ("What is the name of the state it borders?", "Who does it border?", False),
        # a hyphenated word still carries its comparison
        ("Which is the earliest-diverging phylum?", "Which phylum diverged earliest?", True),
        ("Which is the earliest-diverging phylum?", "Which phylum diverged latest?", False),
        # one uses both sides of a pair, the other one side: either way round
        (
            "What do supportive teachers spend more time doing?",
            "What do less supportive teachers spend more of their time doing?",
            False,
        ),
        (
            "What do less supportive teachers spend more of their time doing?",
            "What do supportive teachers spend more time doing?",
            False,
        ),
        ("Which team scored more points?", "which team got more points", True),
    ],
)
def test_agreement(a: str, b: str, agree: bool) -> None:
    assert signatures_agree(a, b) is agree


pytestmark = pytest.mark.unit  # pure logic: `make unit`
