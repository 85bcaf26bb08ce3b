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
not hold whole, by a word the documents use a single slip away (one the model holds whole before
one it does not, then the most used); a word either knows, a short word, one with digits, or one
with no such neighbour stays as written. Deterministic, no model call: a set lookup per candidate
(about 550 for a 10-letter word), memoised per word.
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


def one_slip(a: str, b: str) -> bool:
    """``b`` is ``a`` with one typing slip (see the module docstring)."""
    if a == b or min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
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


def slips_of(word: str) -> Iterator[str]:
    """Every word ``w`` with ``one_slip(word, w)`` (lower-case a-z; duplicates possible)."""
    n = len(word)
    if n < 5:
        return
    for i in range(n - 1):  # two neighbours exchanged
        if word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if n >= 6:  # a letter added to a word of 5 or more
        for i in range(n):
            yield word[:i] + word[i + 1 :]
    for i in range(n + 1):  # a letter left out
        for c in _LETTERS:
            yield word[:i] + c + word[i:]
    if n >= 7:  # one letter replaced
        for i in range(n):
            for c in _LETTERS:
                if c != word[i]:
                    yield word[:i] + c + word[i + 1 :]


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
            rank: tuple[bool, int, str] | None = None
            for cand in slips_of(low):
                seen = self.vocabulary.get(cand, 0)
                if seen:  # a word the model holds whole first, then the most used
                    r = (cand in self.known, seen, cand)
                    if rank is None or r > rank:
                        best, rank = cand, r
        with self._lock:
            if len(self._memo) >= self.memo_size:
                self._memo.clear()
            self._memo[low] = best
        return best

    def correct(self, text: str) -> str:
        """``text`` with each slip put right; the case of a word's first letter is kept."""
        if not self.vocabulary:
            return text

        def fix(m: re.Match[str]) -> str:
            w = m.group(0)
            right = self.word(w)
            if right == w.lower():
                return w
            return right[:1].upper() + right[1:] if w[:1].isupper() else right

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
