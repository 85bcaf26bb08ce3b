"""The word lists the question signature and the hit verifier read: data, kept apart from the
rules that use them (``core.matching.signature``, ``core.matching.verifier``)."""

from __future__ import annotations

NUMBER_WORDS: dict[str, str] = {
    w: str(i)
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
NUMBER_WORDS.update(
    {
        "thirty": "30",
        "forty": "40",
        "fifty": "50",
        "sixty": "60",
        "seventy": "70",
        "eighty": "80",
        "ninety": "90",
        "hundred": "100",
        "thousand": "1000",
        "million": "1000000",
        "billion": "1000000000",
        "dozen": "12",
        "half": "0.5",
    }
)
ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
]
NUMBER_WORDS.update({w: f"{i + 1}th" for i, w in enumerate(ORDINALS)})

# The verbs a yes/no question opens with ("Was it faster or slower?").
_AUXILIARIES_TEXT = (
    "is are was were am be do does did can could will would shall should may might must"
)
AUXILIARIES = frozenset(f"{_AUXILIARIES_TEXT} has have had".split(" "))

# Capitalised only because they open a sentence: never entities in that position.
SENTENCE_START_WORDS = AUXILIARIES | frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "of",
        "for",
        "from",
        "by",
        "to",
        "with",
        "during",
        "after",
        "before",
        "since",
        "until",
        "about",
        "according",
        "name",
        "list",
        "give",
        "tell",
        "approximately",
        "roughly",
        "in",
        "besides",
        "other",
        "along",
        "between",
        "under",
        "over",
        "aside",
        "apart",
        "along",
        "some",
        "many",
        "much",
        "most",
        "if",
        "while",
        "once",
        "as",
        "whenever",
    ]
)


# Pairs of opposite word groups: two questions disagree when one uses a word of one side and the
# other a word of the opposite side of the same pair.
CONTRAST_PAIRS_TEXT = """before earlier prior preceded | after later following succeeded
upper upwards upward top above | lower downwards downward bottom below
higher highest taller tallest | lower lowest shorter shortest
larger largest bigger biggest greatest | smaller smallest least
most more | least less fewer
maximum max | minimum min
oldest older earliest | youngest younger newest latest
beginning start began begin | end ended ending
primary | secondary
inside inner | outside outer
north northern | south southern
east eastern | west western
positive | negative
increase increased increases rise rose gain | decrease decreased decreases fall fell loss
win won wins winner winning | lose lost loses loser losing
male men man | female women woman
richer rich | poorer poor
left | right
front | back"""


# Words a question uses to frame what it asks, not what it is about (compared after stemming).
FRAME_WORDS = frozenset(
    [
        "name",
        "call",
        "called",
        "kind",
        "type",
        "sort",
        "exampl",
        "example",
        "give",
        "tell",
        "list",
        "one",
        "also",
        "els",
        "else",
        "doe",
        "did",
        "do",
        "can",
        "could",
        "would",
        "might",
        "may",
    ]
)

# Opposites the signature's list lacks (compared as stems): one question using a word of one
# side and the other a word of the other side rejects, as in ``core.matching.signature``.
MORE_OPPOSITES = (
    ("high", "low"),
    ("best", "worst least"),
    ("buy bought purchas", "sell sold"),
    ("input", "output"),
    ("accept", "reject"),
    ("born birth", "die death dead"),
    ("built build construct found", "destroy demolish"),
    ("advantag benefit", "disadvantag drawback"),
    ("understat underestim", "overstat overestim"),
    ("import", "export"),
    ("open", "close"),
    ("first", "last"),
    ("rich", "poor"),
    ("strong", "weak"),
    ("success", "failur fail"),
    ("major", "minor"),
    ("allow permit", "forbid ban prohibit"),
    ("support", "oppos"),
    ("join", "leav left"),
    ("add", "remov"),
    ("bring brought", "take took taken"),
)


#: words that open a clause: a clause moved whole exchanges blocks of words without any role
#: changing ("when X, what Y" / "what Y when X")
_CLAUSE_TEXT = """when whenever while after before if unless since because during as although
though where once until"""
CLAUSE_WORDS = frozenset(_CLAUSE_TEXT.split())

#: the forms of "do" that carry a question whose question word is not the subject ("what did X
#: replace"); a question with none of them, nor another auxiliary, asks for the subject ("what
#: replaced X")
_DO_FORMS_TEXT = "do does did don't doesn't didn't dont doesnt didnt"
DO_FORMS = frozenset(_DO_FORMS_TEXT.split())
