"""The speller: a word the documents never use becomes the one they use most a slip away."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.matching.spelling import Speller, one_slip, slips_of, speller_for, word_counts

TEXTS = [
    "Peyton Manning was the oldest quarterback to play in a Super Bowl.",
    "The receptions of the season: Cotchery caught many receptions.",
    "The stadium hosted the game; the stadium was full.",
    "Luther wrote his catechisms; his catechisms spread.",
    "A horse and a house.",
]


@pytest.fixture
def speller() -> Speller:
    return Speller(word_counts(TEXTS))


@pytest.mark.parametrize(
    ("asked", "right"),
    [
        ("who is the oldest quaretrback to play", "who is the oldest quarterback to play"),
        ("how many recetpions did cotchery get", "how many receptions did cotchery get"),
        ("What stdaium hosted it?", "What stadium hosted it?"),
        ("What did Luther add to his catehcisms", "What did Luther add to his catechisms"),
        ("Who is Peytn Manning?", "Who is Peyton Manning?"),  # a letter left out, a name's case
        ("What did the stadiumm host?", "What did the stadium host?"),  # a letter added
    ],
)
def test_slips_are_put_right(speller: Speller, asked: str, right: str) -> None:
    assert speller.correct(asked) == right


@pytest.mark.parametrize(
    "asked",
    [
        "Who rode the hors?",  # a short word: a slip and another word are too alike to tell
        "What is a zebra's stripe for?",  # unknown, no document word a slip away
        "Who won Super Bowl 50 in 2016?",  # digits stay
        "who kicked the ball",  # known or short words stay
    ],
)
def test_other_words_stay_as_written(speller: Speller, asked: str) -> None:
    assert speller.correct(asked) == asked


def test_the_likeliest_neighbour_wins() -> None:
    # two letters exchanged before a letter added or left out, before one replaced
    assert Speller({"stadium": 2, "stadiums": 9}).word("stadiumz") == "stadium"
    assert Speller({"importing": 1, "improving": 9}).word("improting") == "importing"
    # within one kind: a word the model holds whole, then the most used
    assert Speller({"stadium": 2, "stadius": 9}).word("stadiu") == "stadius"
    assert Speller({"stadium": 2, "stadius": 9}, frozenset({"stadium"})).word("stadiu") == "stadium"


def test_a_possessive_keeps_its_ending() -> None:
    speller = Speller({"luther": 5, "richard": 3, "richard's": 1})
    assert speller.correct("how did lutehr's tutors") == "how did luther's tutors"
    assert speller.correct("Who was Ricahrd’s fiancee?") == "Who was Richard’s fiancee?"


def test_every_candidate_is_one_slip_away() -> None:
    for word in ("recetpions", "quarterback", "stdaium"):
        cands = set(slips_of(word))
        assert cands, word
        assert all(one_slip(word, c) for c in cands), word
    assert not set(slips_of("hors"))  # under five letters: no candidate (one_slip agrees)
    assert not one_slip("hors", "horse")


def test_no_vocabulary_changes_nothing() -> None:
    assert Speller({}).correct("who kikced it") == "who kikced it"


def test_speller_for_reads_the_index_texts_unless_switched_off() -> None:
    index = SimpleNamespace(texts=lambda: TEXTS)
    on = speller_for(SimpleNamespace(semantic_spelling=True), index)
    assert on is not None
    assert on.correct("the stdaium") == "the stadium"
    assert speller_for(SimpleNamespace(semantic_spelling=False), index) is None
    assert speller_for(SimpleNamespace(semantic_spelling=True), object()) is None


def test_two_roman_numerals_are_never_one_slip_apart() -> None:
    from core.matching.spelling import one_slip

    assert not one_slip("xxxii", "xxxiii")
    assert not one_slip("XXXVIII", "XXXVII")
    assert one_slip("xxxii", "xxxiia")  # not a numeral: still a slip


@pytest.mark.parametrize(
    ("asked", "right"),
    [
        # the hyphen exchanged with a letter, against the whole word the documents use
        ("when was the patents-haring deal signed", "when was the patent-sharing deal signed"),
        (
            "why is shine-adlgarno recognition important",
            "why is shine-dalgarno recognition important",
        ),
        # the hyphen moved, leaving parts the documents use
        ("what is the jell-ylike substance", "what is the jelly-like substance"),
        ("how many had directt-o-home service", "how many had direct-to-home service"),
        # a slip inside one part
        ("what do non-mnogolian historians say", "what do non-mongolian historians say"),
        # nothing unknown, or nothing a slip away: as written
        ("what did non-mongolian historians say", "what did non-mongolian historians say"),
        ("a long-term e-mail", "a long-term e-mail"),
        ("the zzyzx-qwerty road", "the zzyzx-qwerty road"),
    ],
)
def test_hyphenated_words(asked: str, right: str) -> None:
    speller = Speller(
        word_counts(
            [
                "A patent-sharing deal; Shine-Dalgarno sequences; a jelly like substance; "
                "direct to home service; Mongolian historians; a long term; sharing patents."
            ]
        ),
        frozenset({"non", "long", "term", "mail"}),
    )
    assert speller.correct(asked) == right
