"""What two questions must agree on before one may be answered from the other's cache entry.

A semantic cache hit needs high embedding similarity *and* the same numbers and named entities,
because embeddings barely move when one year or one name changes ("Who won in 2015?" vs
"Who won in 2016?"). The heuristic, kept deliberately simple and cheap:

- **numbers**: digit runs (thousands separators dropped, ``1,000`` == ``1000``) and English number
  words and ordinals (``three`` == ``3``, ``third`` == ``3rd``);
- **named entities**: capitalised tokens (``Denver``, ``NFL``, ``McDonald``) that are not at the
  start of a sentence; a sentence-initial token counts only when it is all capitals or is not a
  common question or function word (so ``Which`` and ``The`` never count, ``Beyonce`` does).

Two questions agree when both sets are equal (compared case-folded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\d[\d,.]*\d|[^\W_][\w'’\-]*|[.?!;]")
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = {".", "?", "!", ";"}

_NUMBER_WORDS: dict[str, str] = {
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
_NUMBER_WORDS.update(
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
_ORDINALS = [
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
_NUMBER_WORDS.update({w: f"{i + 1}th" for i, w in enumerate(_ORDINALS)})
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th)$")

# Capitalised only because they open a sentence: never entities in that position.
_SENTENCE_START_WORDS = frozenset(
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
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "has",
        "have",
        "had",
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
    ]
)


@dataclass(frozen=True)
class QuestionSignature:
    numbers: frozenset[str]
    entities: frozenset[str]

    def agrees_with(self, other: QuestionSignature) -> bool:
        return self.numbers == other.numbers and self.entities == other.entities


def _number(token: str) -> str | None:
    low = token.casefold()
    if low in _NUMBER_WORDS:
        return _NUMBER_WORDS[low]
    m = _ORDINAL_SUFFIX.match(low)
    if m:
        return f"{int(m.group(1))}th"
    if _DIGITS.fullmatch(token):
        return token.replace(",", "")
    return None


def question_signature(question: str) -> QuestionSignature:
    """The numbers and named entities of a question (see the module docstring)."""
    numbers: set[str] = set()
    entities: set[str] = set()
    at_start = True
    for token in _TOKEN.findall(question):
        if token in _SENTENCE_END:
            at_start = True
            continue
        num = _number(token)
        if num is not None:
            numbers.add(num)
        elif token[0].isupper():
            is_acronym = len(token) > 1 and token.isupper()
            if not at_start or is_acronym or token.casefold() not in _SENTENCE_START_WORDS:
                entities.add(token.casefold().replace("’", "'"))
        # digit runs glued to letters ("1990s", "F1") still carry a number
        numbers.update(d.replace(",", "") for d in _DIGITS.findall(token) if num is None)
        at_start = False
    return QuestionSignature(frozenset(numbers), frozenset(entities))


def signatures_agree(a: str, b: str) -> bool:
    """True when two questions name the same numbers and entities."""
    return question_signature(a).agrees_with(question_signature(b))
