"""The semantic-hit verifier's rules (pure logic) and the mirror's inverted-list lookup."""

from __future__ import annotations

import numpy as np
import pytest

from core.cache.semantic import SemanticMirror
from core.index.lexical import LexicalConfig, Tokenizer
from core.matching.terms import TermStats
from core.matching.verifier import HitVerifier, VerifierParams

_CORPUS = [
    "Warsaw stands on the Vistula river. Famous people were born in Warsaw.",
    "Krakow is a city in Poland on the Vistula.",
    "William invaded Scotland in 1072 and England in 1066.",
    "The Broncos won Super Bowl 50; the Panthers lost the game.",
    "The Carolina Panthers practised at San Jose State.",
    "The river flows through the city and the people of the city.",
] * 3


@pytest.fixture(scope="module")
def verifier() -> HitVerifier:
    tokenizer = Tokenizer(LexicalConfig(stemmer="english"))
    return HitVerifier(TermStats.from_texts(tokenizer, _CORPUS))


def test_reworded_paraphrase_is_accepted(verifier: HitVerifier) -> None:
    v = verifier.verdict(
        "When did William invade Scotland?", "When was Scotland invaded by William?", 0.97
    )
    assert v.accepted
    assert v.reason == "accepted"
    assert v.score == pytest.approx(0.97)  # same content words: nothing to subtract


@pytest.mark.parametrize(
    ("asked", "cached", "reason"),
    [
        (
            "When was England invaded by William?",
            "When was Scotland invaded by William?",
            "entities",
        ),
        ("Who won Super Bowl 49?", "Who won Super Bowl 50?", "numbers"),
        ("Who won Super Bowl XXXIII?", "Who won Super Bowl XXXII?", "entities"),
        ("Where did William invade?", "When did William invade?", "answer kind"),
        ("Who lost Super Bowl 50?", "Who won Super Bowl 50?", "opposite words"),
        ("Who was born in Warsaw?", "Who died in Warsaw?", "opposite words"),
        (
            "What instruments did the Yuan take from China?",
            "What instruments did the Yuan bring to China?",
            "opposite words",
        ),
        (
            "What do less supportive teachers spend more time doing?",
            "What do supportive teachers spend more time doing?",
            "opposite words",
        ),
        (
            "What is the high end of the range?",
            "What is the low end of the range?",
            "opposite words",
        ),
        (
            "What is the largest river in Warsaw?",
            "What is the river in Warsaw?",
            "comparison added",
        ),
        ("What does not count as a river?", "What does count as a river?", "negation"),
        (
            "What are the fees for non-boarding pupils?",
            "What are the fees for boarding pupils?",
            "negation",
        ),
        (
            "What does trade with richer countries do to workers in poorer countries?",
            "What does trade with poorer countries do to workers in richer countries?",
            "roles swapped",
        ),
        (
            "When a plant is injured, what can proplastids become?",
            "When a plant is injured, what can become proplastids?",
            "roles swapped",
        ),
        (
            "What did the greedy merchant do to the river spirit?",
            "What did the river spirit do to the greedy merchant?",
            "roles swapped",
        ),
        ("What replaced the tram line?", "What did the tram line replace?", "roles swapped"),
        (
            "What kind of cells do killer cells attack?",
            "What kind of killer cells attack cells?",
            "roles swapped",
        ),
        (
            "On what day does the council meet?",
            "At what time of day does the council meet?",
            "answer kind",
        ),
    ],
)
def test_hard_checks_reject(verifier: HitVerifier, asked: str, cached: str, reason: str) -> None:
    v = verifier.verdict(asked, cached, 0.99)
    assert not v.accepted
    assert v.reason == reason


def test_reordered_phrases_and_passives_are_not_role_swaps(verifier: HitVerifier) -> None:
    for asked, cached in [
        (
            "In summer, what is the low end of the range?",
            "What is the low end of the range in summer?",
        ),
        ("When did William invade Scotland?", "When was Scotland invaded by William?"),
        ("Which river does Warsaw stand on?", "Which river does Warsaw stand on?"),
        # a question word moved with its noun, a clause moved whole: blocks exchanged, no role
        ("Which river does Warsaw stand on?", "Warsaw stands on which river?"),
        (
            "What can proplastids become in an injured plant?",
            "In an injured plant, what can proplastids become?",
        ),
    ]:
        assert verifier.verdict(asked, cached, 0.99).reason == "accepted", (asked, cached)


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        # the question word the subject of both, or told apart by neither ("is", a passive)
        ("What replaced the tram line?", "What took the place of the tram line?"),
        ("What is the tram line called?", "What do people call the tram line?"),
        ("What replaced the tram line?", "What was the tram line replaced by?"),
    ],
)
def test_a_question_word_in_one_role_is_no_swap(
    verifier: HitVerifier, asked: str, cached: str
) -> None:
    assert verifier.hard_check(verifier.evidence(asked), verifier.evidence(cached)) is None


def test_when_agrees_with_a_day_and_with_an_hour_which_disagree(verifier: HitVerifier) -> None:
    def check(a: str, b: str) -> str | None:
        return verifier.hard_check(verifier.evidence(a), verifier.evidence(b))

    when, day = "When does the council meet?", "On what day does the council meet?"
    hour = "What time does the council meet?"
    assert check(when, day) is None
    assert check(when, hour) is None
    assert check(day, hour) == "answer kind"
    assert check("What time period did the council meet in?", day) is None
    # a noun whose value is a number or a date asks what "how ..." or "when" asks
    assert check("How far is the hall from the sea?", "What is the distance to the sea?") is None
    assert check("How many tonnes are grown?", "What tonnage is grown?") is None
    assert check(when, "What is the date of the council's meeting?") is None
    assert check("What is the capital of Peru?", "How large is Peru?") == "answer kind"


def test_entities_may_add_but_not_conflict(verifier: HitVerifier) -> None:
    q = "Who is the quarterback for the Panthers?"
    assert verifier.accepts(q, "Who is the quarterback for the Carolina Panthers?", 0.99)
    # a name the other question writes in lower case is the same name
    assert verifier.accepts(
        "Which river does warsaw stand on?", "Which river does Warsaw stand on?", 0.99
    )


def test_a_swapped_rare_word_costs_more_than_a_common_one(verifier: HitVerifier) -> None:
    a = verifier.evidence("Which river flows through the famous city?")
    common = verifier.evidence("Which river flows through the famous people?")  # 'people' common
    rare = verifier.evidence("Which river flows through the famous Krakow?")  # unseen-ish word
    assert verifier.score(a, common, 0.95) > verifier.score(a, rare, 0.95)
    overlap, worst = verifier.lexical(a, a)
    assert (overlap, worst) == (1.0, 0.0)


def test_score_threshold_decides(verifier: HitVerifier) -> None:
    asked, cached = "Where did the Panthers practise?", "Where did the Panthers train?"
    low = verifier.verdict(asked, cached, 0.90)
    assert not low.accepted
    assert low.reason == "score"
    lenient = HitVerifier(verifier.stats, VerifierParams(accept=0.5))
    assert lenient.accepts(asked, cached, 0.90)


def test_deterministic_and_memoised(verifier: HitVerifier) -> None:
    args = ("What is the river in Warsaw?", "Which river is in Warsaw?", 0.95)
    assert verifier.verdict(*args) == verifier.verdict(*args)
    assert verifier.evidence(args[0]) is verifier.evidence(args[0])


def test_idf_follows_bm25() -> None:
    stats = TermStats(str.split, {"river": 3}, 10)
    assert stats.idf("river") == pytest.approx(np.log(1 + (10 - 3 + 0.5) / 3.5))
    assert stats.idf("unseen") == pytest.approx(stats.max_idf)


def test_index_without_lexical_side_weighs_words_alike() -> None:
    stats = TermStats.of_index(object())
    assert stats.idf("warsaw") == stats.idf("river")


def _clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((64, dim)).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_coarse_mirror_finds_close_neighbours_like_the_full_scan() -> None:
    rng = np.random.default_rng(7)
    x = _clustered(3000, 32, rng)
    coarse = SemanticMirror(32, coarse_min_rows=2000)
    full = SemanticMirror(32, coarse_min_rows=0)
    for i, row in enumerate(x):
        coarse.add(f"h{i}", row)
        full.add(f"h{i}", row)
    assert coarse.coarse
    assert not full.coarse
    noisy = x[:200] + 0.05 * rng.standard_normal((200, 32)).astype(np.float32)
    queries = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)

    def top(m: SemanticMirror, q: np.ndarray) -> list[str]:
        return [h for h, _ in m.nearest(q, threshold=0.8, limit=1)]

    agree = sum(top(coarse, q) == top(full, q) for q in queries)
    assert agree >= 196  # close neighbours sit in the probed lists


def test_coarse_mirror_follows_removals_and_replacements() -> None:
    rng = np.random.default_rng(8)
    x = _clustered(600, 16, rng)
    m = SemanticMirror(16, coarse_min_rows=500)
    m.replace({f"h{i}": row for i, row in enumerate(x)})
    assert m.coarse
    assert len(m) == 600
    assert m.nearest(x[3], threshold=0.99, limit=1)[0][0] == "h3"
    m.remove("h3")
    assert all(h != "h3" for h, _ in m.nearest(x[3], threshold=0.0, limit=5))
    m.add("h4", x[3])  # h4's vector replaced
    assert m.nearest(x[3], threshold=0.99, limit=1)[0][0] == "h4"
    m.clear()
    assert not m.coarse
    assert m.nearest(x[3], threshold=0.0) == []


@pytest.mark.parametrize(
    ("a", "b", "slip"),
    [
        ("platform", "platfrom", True),  # neighbours exchanged
        ("reception", "recption", True),  # a letter left out
        ("jacksonville", "jacksonvile", True),
        ("fraternities", "fraternaties", True),  # one letter replaced, a long word
        ("house", "horse", False),  # one letter replaced, a short word: a real other word
        ("river", "rivers", True),
        ("city", "cty", False),  # too short to tell a slip from another word
        ("warsaw", "krakow", False),
        ("warsaw", "warsaw", False),
    ],
)
def test_typing_slips(a: str, b: str, slip: bool) -> None:
    from core.matching.spelling import one_slip

    assert one_slip(a, b) is slip
    assert one_slip(b, a) is slip


def test_a_typing_slip_is_the_same_word(verifier: HitVerifier) -> None:
    asked = verifier.evidence("Which river does Warsaw stand on?")
    slipped = verifier.evidence("which river does warsw stadn on")
    other = verifier.evidence("Which river does Krakow stand on?")
    overlap, worst = verifier.lexical(asked, slipped)
    assert worst == 0.0  # no word is missing: each slipped word found its twin
    assert overlap == 1.0
    assert verifier.accepts(
        "which river does warsw stadn on", "Which river does Warsaw stand on?", 0.95
    )
    # a slip never makes another name the same name
    assert verifier.lexical(asked, other)[1] > 0.0
    assert verifier.verdict(
        "Who won Super Bowl 50 for the Broncos?", "Who won Super Bowl 50 for the Bronocs?", 0.97
    ).accepted
    assert (
        verifier.verdict(
            "Where does the Vistula flow in Warsaw?", "Where does the Vistula flow in Krakow?", 0.97
        ).reason
        == "entities"
    )
