"""What two questions must agree on before one may be answered from the other's cache entry.

A semantic cache hit needs high embedding similarity *and* the same numbers and named entities,
because embeddings barely move when one year or one name changes ("Who won in 2015?" vs
"Who won in 2016?"). The heuristic, kept deliberately simple and cheap:

- **numbers**: digit runs (thousands separators dropped, ``1,000`` == ``1000``) and English number
  words and ordinals (``three`` == ``3``, ``third`` == ``3rd``);
- **named entities**: capitalised tokens (``Denver``, ``NFL``, ``McDonald``) that are not at the
  start of a sentence; a sentence-initial token counts only when it is all capitals or is not a
  common question or function word (so ``Which`` and ``The`` never count, ``Beyonce`` does).

- **answer type**: what kind of answer the question asks for, from its first question word
  (``when``/``what year`` → time, ``who`` → person, ``where`` → place, ``why`` → reason,
  ``how many``/``how much`` → quantity, ``what percentage`` → percent, other ``how`` → manner,
  ``what person`` → person, ``in what way`` → manner, other ``what``/``which`` → thing; with
  none at all, a yes/no question → choice, keywords or a command → any, which agrees with every
  kind), because "Who founded X?" and "When was X founded?" embed almost identically;
- **contrast words**: one question must not use a word whose opposite the other uses, since they
  flip the answer while barely moving the embedding (``before`` / ``after``, ``upper`` /
  ``lower``, ``largest`` / ``smallest``, ``won`` / ``lost``, compass directions, ...).

Two questions agree when all four are equal (entities compared case-folded). On SQuAD v1.1 dev
this check keeps false semantic hits well under 0.5% of asked questions at the default threshold
(``bench/semantic_cache.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.matching.words import AUXILIARIES as _AUXILIARIES
from core.matching.words import CONTRAST_PAIRS_TEXT as _CONTRAST_PAIRS_TEXT
from core.matching.words import NUMBER_WORDS as _NUMBER_WORDS
from core.matching.words import SENTENCE_START_WORDS as _SENTENCE_START_WORDS

_TOKEN = re.compile(r"\d[\d,.]*\d|[^\W_][\w'’\-]*|[.?!;]")
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = {".", "?", "!", ";"}

_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th)$")


_CONTRAST_PAIRS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(a.split()), frozenset(b.split()))
    for a, b in (line.split("|") for line in _CONTRAST_PAIRS_TEXT.splitlines())
)
_CONTRAST = frozenset().union(*(a | b for a, b in _CONTRAST_PAIRS))


def _contrasts_agree(a: frozenset[str], b: frozenset[str]) -> bool:
    """No opposite pair whose sides the two questions use differently, where both use it: one
    uses a side the other does not ("more" / "less", "more ... less" / "more"), either way."""
    for left, right in _CONTRAST_PAIRS:
        sides_a = (bool(a & left), bool(a & right))
        sides_b = (bool(b & left), bool(b & right))
        if any(sides_a) and any(sides_b) and sides_a != sides_b:
            return False
    return True


_TIME_TEXT = "year years time date day month century decade period era age season"
_PLACE_TEXT = "city country state place location town region continent"
_QUANTITY_TEXT = "many much long old far large big tall high deep wide fast heavy often"
_TIME_NOUNS = frozenset(_TIME_TEXT.split())
#: nouns whose value is a number: "what tonnage ..." asks what "how many tonnes ..." asks
_QUANTITY_NOUN_TEXT = """distance tonnage population size length height width depth weight cost
price rate speed total area temperature altitude elevation capacity"""
_QUANTITY_NOUNS = frozenset(_QUANTITY_NOUN_TEXT.split())
_PLACE_NOUNS = frozenset(_PLACE_TEXT.split())
_QUANTITY_HOW = frozenset(_QUANTITY_TEXT.split())


@dataclass(frozen=True)
class QuestionSignature:
    numbers: frozenset[str]
    entities: frozenset[str]
    kind: str = "thing"
    contrasts: frozenset[str] = frozenset()

    def agrees_with(self, other: QuestionSignature) -> bool:
        return (
            kinds_agree(self.kind, other.kind)
            and self.numbers == other.numbers
            and self.entities == other.entities
            and _contrasts_agree(self.contrasts, other.contrasts)
        )


def answer_kind(words: list[str]) -> str:
    """The kind of answer asked for, from the first question word (see the module docstring)."""
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w == "when":
            return "time"
        if w in ("who", "whom", "whose"):
            return "person"
        if w == "where":
            return "place"
        if w == "why":
            return "reason"
        if w == "how":
            return "quantity" if nxt in _QUANTITY_HOW else "manner"
        if w in ("what", "which"):
            # "what is the name of the state ..." asks what "which state ..." asks
            rest = words[i + 1 : i + 7]
            if rest[:4] in (["is", "the", "name", "of"], ["was", "the", "name", "of"]):
                rest = rest[4:]
                if rest and rest[0] in ("the", "a", "an"):
                    rest = rest[1:]
                nxt = rest[0] if rest else ""
            elif (
                rest[:1] in (["is"], ["was"], ["are"], ["were"])
                and rest[1:2] == ["the"]
                and rest[2:3]
                and (rest[2] in _QUANTITY_NOUNS or rest[2] in _TIME_NOUNS)
            ):
                # "what is the distance ..." asks what "how far" asks; "what was the date of"
                # what "when" asks
                nxt = rest[2]
            if nxt in _QUANTITY_NOUNS:
                return "quantity"
            if nxt in ("percentage", "percent", "proportion", "fraction"):
                return "percent"
            if nxt == "time" and rest[1:2] != ["period"] and rest[1:3] != ["of", "year"]:
                return "clock"  # "what time (of day) does it open": an hour, not a date
            if nxt in _TIME_NOUNS:
                return "date"
            if nxt in _PLACE_NOUNS:
                return "place"
            if nxt in ("number", "amount", "quantity"):
                return "quantity"
            if nxt == "person":
                return "person"
            if nxt == "way":  # "in what way" asks what "how" asks
                return "manner"
            return "thing"
    # no question word: a yes/no or either/or question ("Was it faster or slower?"), or
    # keywords and commands ("sky digital launch date", "name a public key algorithm"), which
    # may ask for any kind
    return "choice" if words and words[0] in _AUXILIARIES else ANY_KIND


#: the answer kind of a question that names none (keywords, a command): it agrees with any
ANY_KIND = "any"


#: kinds that agree although unequal: "when" (a time) may ask for a date ("what year") or an
#: hour ("what time")
_AGREEING_KINDS = frozenset([frozenset(["time", "clock"]), frozenset(["time", "date"])])


def kinds_agree(a: str, b: str) -> bool:
    """Two answer kinds agree when equal, when either question names none, or when one is the
    other's narrower form: "when" (``"time"``) agrees with "what year/day/period" (``"date"``)
    and with "what time (of day)" (``"clock"``), which do not agree with each other."""
    return a == b or ANY_KIND in (a, b) or frozenset([a, b]) in _AGREEING_KINDS


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


_CLAUSE_OPENERS = frozenset(["when", "if", "while", "once", "as", "whenever", "after", "before"])
_WH = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "why", "how"])


def _main_clause_kind(question: str, words: list[str]) -> str:
    """The answer kind of the main clause: ``When a plant is injured, what can ...`` asks for
    a thing, not a time (the opening clause is a condition)."""
    if words and words[0] in _CLAUSE_OPENERS and "," in question:
        tail = [t.casefold() for t in _TOKEN.findall(question.split(",", 1)[1])]
        if any(w in _WH for w in tail):
            return answer_kind(tail)
    return answer_kind(words)


def question_signature(question: str) -> QuestionSignature:
    """The numbers and named entities of a question (see the module docstring)."""
    numbers: set[str] = set()
    entities: set[str] = set()
    tokens = _TOKEN.findall(question)
    words = [t.casefold() for t in tokens if t not in _SENTENCE_END]
    at_start = True
    for token in tokens:
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
    return QuestionSignature(
        frozenset(numbers),
        frozenset(entities),
        _main_clause_kind(question, words),
        frozenset(p for w in words for p in (w, *w.split("-")) if p in _CONTRAST),
    )


def signatures_agree(a: str, b: str) -> bool:
    """True when two questions name the same numbers and entities."""
    return question_signature(a).agrees_with(question_signature(b))
