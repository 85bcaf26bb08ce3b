"""Typing slips: what counts as one, and putting a question's slips right against the words the
index's own documents use.

A slip is two neighbouring letters exchanged, a letter left out or added (words of 5 letters or
more), or one letter replaced (7 or more, where a real word one letter away is rarer):
``recptions``, ``speceis``, ``fraternaties``. The verifier counts a word one slip away from the
other question's as that word (:func:`one_slip`); the speller goes further, before the question
is embedded: the embedding model splits a misspelled word into word pieces and the cosine to the
cached question drops from about 0.99 to 0.6-0.9 (``bench/pair_table.py``: most of its derived
typo probes missed the semantic side for that alone).

:class:`Speller` replaces a word the index's documents never use, and the embedding model does
not hold whole, by a word the documents use a single slip away (two letters exchanged before a
letter added or left out, before one replaced; then one the model holds whole; then the most
used); a word either knows, a short word, one with digits, or one with no such neighbour stays as
written. Deterministic, no model call: a set lookup per candidate (about 550 for a 10-letter
word), memoised per word.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: a word as the speller sees it: letters, an inner apostrophe or hyphen (``luther's``)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PLAIN = re.compile(r"[a-z]+")


_ROMAN = re.compile(r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})", re.IGNORECASE)


def one_slip(a: str, b: str) -> bool:
    """``b`` is ``a`` with one typing slip (see the module docstring); two Roman numerals never
    are (``XXXII`` / ``XXXIII``: Super Bowls a year apart)."""
    if a == b or min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if _ROMAN.fullmatch(a) and _ROMAN.fullmatch(b):
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            i = diff[0]
            return a[i] == b[i + 1] and a[i + 1] == b[i]
        return len(diff) == 1 and len(a) >= 7
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def slip_groups(word: str) -> tuple[list[str], ...]:
    """The words one slip from ``word`` (``one_slip``), by kind of slip in the order the speller
    prefers them: two neighbours exchanged, a letter added or left out, one replaced."""
    n = len(word)
    if n < 5:
        return ()
    swapped = [
        word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        for i in range(n - 1)
        if word[i] != word[i + 1]
    ]
    # a letter added to a word of 5 or more (the typed one has 6 or more); one left out
    added = [word[:i] + word[i + 1 :] for i in range(n)] if n >= 6 else []
    left_out = [word[:i] + c + word[i:] for i in range(n + 1) for c in _LETTERS]
    replaced = (
        [word[:i] + c + word[i + 1 :] for i in range(n) for c in _LETTERS if c != word[i]]
        if n >= 7
        else []
    )
    return swapped, added + left_out, replaced


def slips_of(word: str) -> Iterator[str]:
    """Every word ``w`` with ``one_slip(word, w)`` (lower-case a-z; duplicates possible)."""
    for group in slip_groups(word):
        yield from group


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """How often each lower-case word occurs in ``texts``."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_WORD.findall(text.lower()))
    return counts


@dataclass
class Speller:
    """Puts slips right against a vocabulary (word -> how often the documents use it)."""

    vocabulary: Mapping[str, int]
    #: words left as written though the documents never use them: the embedding model's own
    #: whole words (``core.encoder.model_words``): "slower", "starred" and "adoptive" are words,
    #: not slips of "lower", "started" and "adaptive"
    known: frozenset[str] = frozenset()
    min_length: int = 5
    memo_size: int = 16384
    _memo: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def word(self, word: str) -> str:
        """The vocabulary's most used word one slip from ``word`` (lower case), or ``word``
        itself when the vocabulary has it, it is short or has no such neighbour."""
        low = word.lower()
        got = self._memo.get(low)
        if got is not None:
            return got
        best = low
        if (
            len(low) >= self.min_length
            and low not in self.vocabulary
            and low not in self.known
            and _PLAIN.fullmatch(low)
        ):
            for group in slip_groups(low):  # the first kind of slip that gives a word
                seen = [(c in self.known, n, c) for c in group if (n := self.vocabulary.get(c, 0))]
                if seen:  # a word the model holds whole first, then the most used
                    best = max(seen)[2]
                    break
        with self._lock:
            if len(self._memo) >= self.memo_size:
                self._memo.clear()
            self._memo[low] = best
        return best

    def _known(self, part: str) -> bool:
        return len(part) < self.min_length or part in self.vocabulary or part in self.known

    def hyphenated(self, word: str) -> str:
        """A hyphenated word (lower case) with its slips put right, where a part is a word
        neither the documents nor the model know: the whole word the documents use a slip away
        (the hyphen counts as a letter: ``patents-haring`` -> ``patent-sharing``,
        ``shine-adlgarno`` -> ``shine-dalgarno``); else a hyphen exchanged with a letter beside
        it, leaving parts the documents use (``jell-ylike`` -> ``jelly-like``); else each part
        on its own (``non-mnogolian`` -> ``non-mongolian``)."""
        low = word.lower()
        parts = low.split("-")
        if low in self.vocabulary or all(self._known(part) for part in parts):
            return low
        for group in slip_groups(low):  # as for a word: the first kind of slip that gives one
            seen = [(n, c) for c in group if (n := self.vocabulary.get(c, 0))]
            if seen:
                return max(seen)[1]
        for i, ch in enumerate(low):
            for j in (i - 1, i + 1) if ch == "-" else ():  # the hyphen and a letter exchanged
                if 0 <= j < len(low) and low[j] != "-":
                    a, b = min(i, j), max(i, j)
                    moved = low[:a] + low[b] + low[a] + low[b + 1 :]
                    if all(p in self.vocabulary for p in moved.split("-")):
                        return moved
        return "-".join(self.word(p) if _PLAIN.fullmatch(p) else p for p in parts)

    def correct(self, text: str) -> str:
        """``text`` with each slip put right; the case of a word's first letter is kept, and a
        possessive's ending (``lutehr's`` -> ``luther's``)."""
        if not self.vocabulary:
            return text

        def fix(m: re.Match[str]) -> str:
            whole = m.group(0)
            w, sep, rest = whole, "", ""
            for mark in "'’":
                if mark in whole:
                    w, _, rest = whole.partition(mark)
                    sep = mark
                    break
            if sep and self.vocabulary.get(whole.lower()):
                return whole
            right = self.hyphenated(w) if "-" in w else self.word(w)
            if right == w.lower():
                return whole
            right = right[:1].upper() + right[1:] if w[:1].isupper() else right
            return right + sep + rest

        return _WORD.sub(fix, text)


#: the most words a speller keeps (the most used ones): a large corpus's long tail of one-off
#: words costs memory and is where the corpus's own slips live
MAX_VOCABULARY = 500_000


def speller_for(
    settings: Any, index: object, known: frozenset[str] | None = None
) -> Speller | None:
    """The speller ``settings`` choose for one index version (None: slips are left as written,
    or the index holds no texts): the service's and ``tandem cache explain``'s one rule.
    ``known``: words never taken for slips (default: the bundled model's whole words)."""
    if not getattr(settings, "semantic_spelling", False):
        return None
    texts = getattr(index, "texts", None)
    if not callable(texts):
        return None
    counts = word_counts(texts())
    if len(counts) > MAX_VOCABULARY:
        counts = Counter(dict(counts.most_common(MAX_VOCABULARY)))
    if known is None:
        from core.encoder import model_words

        known = model_words()
    return Speller(counts, known)
