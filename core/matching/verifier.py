"""Whether a semantic-cache candidate may answer the asked question: evidence beyond the cosine.

The nearest cached questions are found by cosine (``SemanticMirror``); on SQuAD v1.1 dev no
cosine threshold separates paraphrases from different questions about the same paragraph
(``bench/semantic_cache.py``). The verifier adds what the embedding barely sees, in two steps:

1. **hard checks** (any failure rejects): the same answer kind and numbers as the question
   signature (``core.matching.signature``); named entities that do not conflict (one question
   may name more than the other, ``Panthers`` / ``Carolina Panthers``, but each naming something
   the other lacks rejects; names are compared stemmed, and a name the other question writes in
   lower case counts); no opposite words (the signature's pairs plus a few more: ``high``/``low``,
   ``born``/``died``, ``bought``/``sold``...); a comparison in both or in neither (``most``,
   ``largest``, ``before``); the same negation (``not``, ``n't``, ``non-``...); roles not
   swapped (both questions use both words of an opposite pair, in the other order; or the same
   content words with two neighbours exchanged and no passive ``by`` or possessive to explain
   it: ``what can proplastids become`` / ``what can become proplastids``; or with two blocks
   exchanged around the rest, where no clause can have moved: ``what did a greedy merchant do
   to the mermaid`` / ``what did the mermaid do to the greedy merchant``; or the question word
   the subject of one and the object of the other: ``what replaced X`` / ``what did X
   replace``);
2. **lexical evidence weighted by the index's own statistics**: each question's content words
   (the index's BM25 tokenizer: lower-cased, stop words removed, stemmed; question-framing words
   such as ``name``/``kind``/``type`` left out) weighted by BM25's IDF over the index's chunks, so
   a swapped rare word costs more than reworded common ones; a word one typing slip away from
   the other question's (two letters exchanged, one left out or added; one replaced in a long
   word) counts as that word, and so does such a name. The score is

       cosine + overlap_weight * overlap - miss_weight * worst_miss

   where ``overlap`` is the IDF-weighted Jaccard of the two content-word sets and ``worst_miss``
   the largest IDF, relative to the largest possible one, among the words only one question has.
   A candidate is accepted when the score reaches ``accept``.

Cheap and deterministic: two tokenizations (memoised) and a few dictionary reads per candidate,
no model call. The weights were chosen on the tune half of SQuAD dev's articles and of
``bench/data/semantic_paraphrases.jsonl`` (``bench/semantic_cache.py --tune``) and are reported
on the other half (``bench/README.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.matching.signature import (
    _CONTRAST_PAIRS,
    QuestionSignature,
    _contrasts_agree,
    kinds_agree,
    question_signature,
)
from core.matching.spelling import one_slip
from core.matching.terms import TermStats
from core.matching.words import AUXILIARIES as _AUXILIARIES
from core.matching.words import CLAUSE_WORDS as _CLAUSE_WORDS
from core.matching.words import DO_FORMS as _DO_FORMS
from core.matching.words import FRAME_WORDS as _FRAME_WORDS
from core.matching.words import MORE_OPPOSITES as _MORE_OPPOSITES

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|without|neither|nor|non|cannot)\b|n[’']t\b|\bnon-"
    # the contraction typed without its apostrophe ("doesnt"); not "cant" or "wont", words too
    r"|\b(?:do|does|did|is|are|was|were|has|have|had|could|would|should|must)nt\b",
    re.IGNORECASE,
)
_OPPOSITES = tuple((frozenset(a.split()), frozenset(b.split())) for a, b in _MORE_OPPOSITES)
_ORDERED_PAIRS = tuple(_CONTRAST_PAIRS) + _OPPOSITES


def _one_sided(a: frozenset[str], b: frozenset[str]) -> bool:
    """One question compares (``largest``, ``most``, ``before``...) where the other does not."""
    for left, right in _CONTRAST_PAIRS:
        sides = left | right
        if bool(a & sides) != bool(b & sides):
            return True
    return False


@dataclass(frozen=True)
class VerifierParams:
    """The score's weights and threshold (see the module docstring).

    Defaults: the weights of ``bench/semantic_cache.py --tune``'s search on float vectors (best
    tune-half precision, most tune paraphrases as the tie-break); the threshold recalibrated for
    the default onnx-int8 vectors on the tune half (``--tune``'s threshold sweep): no distinct
    question of the tune paraphrase items accepted, no more tune SQuAD false hits than at 0.92,
    then the most tune paraphrases (0.91: 38 of 85, against 29 at 0.92).
    """

    accept: float = 0.91
    overlap_weight: float = 0.0
    miss_weight: float = 0.1


@dataclass(frozen=True)
class QuestionEvidence:
    """What the verifier compares, computed once per question."""

    signature: QuestionSignature
    entities: frozenset[str]  # the signature's names, stemmed like the terms
    negated: bool
    terms: Mapping[str, float]  # content word -> IDF
    order: tuple[str, ...] = ()  # content words in the order the question has them
    voice: tuple[int, int] = (0, 0)  # ("by" count, "of" + possessive "'s" count)
    words: tuple[str, ...] = ()  # the lower-case words
    clause: bool = False  # a comma or a clause word (``when``, ``after``...): clauses can move
    #: what the opening question word is: "subject" (``what replaced X``), "object" (``what did X
    #: replace``) or "" (neither told apart: another opening, an auxiliary, a passive)
    wh_role: str = ""


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    score: float
    reason: str  # "accepted", or the check that rejected


def _roles_swapped(wa: tuple[str, ...], wb: tuple[str, ...]) -> bool:
    """Both questions use both words of an opposite pair, in the other order: ``trade with
    richer countries ... in poorer countries`` / the reverse."""
    for left, right in _ORDERED_PAIRS:
        sides_a = [w in left for w in wa if w in left or w in right]
        sides_b = [w in left for w in wb if w in left or w in right]
        if len(set(sides_a)) == 2 and len(set(sides_b)) == 2 and sides_a[0] != sides_b[0]:
            return True
    return False


def _transposed(a: QuestionEvidence, b: QuestionEvidence) -> bool:
    """The same content words in the same order but for two neighbours exchanged, with no
    passive ``by`` or possessive to explain it: ``what can proplastids become`` / ``what can
    become proplastids``."""
    x, y = a.order, b.order
    if len(x) != len(y) or x == y or a.voice != b.voice:
        return False
    diff = [i for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v]
    if len(diff) != 2 or diff[1] != diff[0] + 1:
        return False
    i = diff[0]
    return x[i] == y[i + 1] and x[i + 1] == y[i]


_WH_ROLE_WORDS = frozenset(["what", "which", "who", "whom"])


def _wh_role(words: tuple[str, ...]) -> str:
    """Whether the opening question word is the subject (no auxiliary in the next six words:
    ``what kind of T cells kill ...``) or the object (a form of "do" there: ``what kind of
    cells do killer T cells kill``); "" when the words do not tell (another opening, "is",
    "can" or "has" there, or a passive ``by``)."""
    if not words or words[0] not in _WH_ROLE_WORDS:
        return ""
    head = words[1:7]
    if any(w in _DO_FORMS for w in head):
        return "object"
    if any(w in _AUXILIARIES or w.endswith(("n't", "n’t")) for w in head) or "by" in words:
        return ""
    return "subject"


def _blocks_exchanged(a: QuestionEvidence, b: QuestionEvidence) -> bool:
    """The same content words, but two blocks of them exchanged around the rest (``what did a
    greedy merchant do to the mermaid`` / ``what did the mermaid do to the greedy merchant``),
    with no passive ``by`` or possessive to explain it, no clause moved whole (a comma or a
    clause word in either question) and the question opening alike (``what did``: a question
    word moved with its noun, ``Warsaw is the seat of which archdiocese``, is a rewording)."""
    x, y = a.order, b.order
    if len(x) != len(y) or x == y or sorted(x) != sorted(y) or a.voice != b.voice:
        return False
    if a.clause or b.clause or a.words[:2] != b.words[:2]:
        return False  # a clause, or the question's own words ("which X is Y"), may have moved
    i = 0
    while x[i] == y[i]:
        i += 1
    j = len(x)
    while x[j - 1] == y[j - 1]:
        j -= 1
    x, y = x[i:j], y[i:j]
    n = len(x)
    for la in range(1, n):
        for lb in range(1, n - la + 1):
            m = n - la - lb
            if x[:la] == y[n - la :] and x[n - lb :] == y[:lb] and x[la : la + m] == y[lb : lb + m]:
                return True
    return False


def _matched(term: str, others: Iterable[str]) -> bool:
    """``term`` is one of ``others`` or a typing slip away from one."""
    return any(term == o or one_slip(term, o) for o in others)


def _entities_conflict(a: QuestionEvidence, b: QuestionEvidence) -> bool:
    """Both questions name something the other does not (a name may appear uncapitalised, or
    with a typing slip)."""
    seen_b, seen_a = (*b.entities, *b.terms), (*a.entities, *a.terms)
    only_a = {e for e in a.entities if not _matched(e, seen_b)}
    only_b = {e for e in b.entities if not _matched(e, seen_a)}
    return bool(only_a) and bool(only_b)


@dataclass
class HitVerifier:
    """Decides semantic-cache candidates for one index version's term statistics."""

    stats: TermStats
    params: VerifierParams = field(default_factory=VerifierParams)
    memo_size: int = 8192
    _memo: dict[str, QuestionEvidence] = field(default_factory=dict, repr=False)

    def evidence(self, question: str) -> QuestionEvidence:
        ev = self._memo.get(question)
        if ev is None:
            order = [
                t
                for t in self.stats.tokenize(question)
                if t not in _FRAME_WORDS and not t.isdigit()
            ]
            terms = {t: self.stats.idf(t) for t in order}
            words = tuple(_WORD.findall(question.lower()))
            voice = (
                words.count("by"),
                words.count("of") + sum(w.endswith(("'s", "’s")) for w in words),
            )
            sig = question_signature(question)
            entities = frozenset(
                stem for e in sig.entities for stem in self.stats.tokenize(e.removesuffix("'s"))
            )
            clause = "," in question or any(w in _CLAUSE_WORDS for w in words)
            wh_role = _wh_role(words)
            ev = QuestionEvidence(
                sig,
                entities,
                bool(_NEGATION.search(question)),
                terms,
                tuple(order),
                voice,
                words,
                clause,
                wh_role,
            )
            if len(self._memo) >= self.memo_size:
                self._memo.clear()
            self._memo[question] = ev
        return ev

    def lexical(self, asked: QuestionEvidence, cached: QuestionEvidence) -> tuple[float, float]:
        """(IDF-weighted Jaccard of the content words, worst one-sided word's relative IDF)."""
        a, b = asked.terms, cached.terms
        shared = sum(w for t, w in a.items() if t in b)
        # a word one typing slip from the other question's counts as that word (its weight)
        only_a = {t: w for t, w in a.items() if t not in b}
        only_b = {t: w for t, w in b.items() if t not in a}
        for t in list(only_a):
            twin = next((o for o in only_b if one_slip(t, o)), None)
            if twin is not None:
                shared += only_b.pop(twin)
                del only_a[t]
        misses = [*only_a.values(), *only_b.values()]
        union = shared + sum(misses)
        overlap = shared / union if union > 0 else 1.0
        return overlap, max(misses, default=0.0) / self.stats.max_idf

    def score(self, asked: QuestionEvidence, cached: QuestionEvidence, cosine: float) -> float:
        overlap, worst = self.lexical(asked, cached)
        p = self.params
        return cosine + p.overlap_weight * overlap - p.miss_weight * worst

    def hard_check(self, a: QuestionEvidence, b: QuestionEvidence) -> str | None:
        """The check two questions fail before any scoring (None: they pass all)."""
        sa, sb = a.signature, b.signature
        if not kinds_agree(sa.kind, sb.kind):
            return "answer kind"
        if sa.numbers != sb.numbers:
            return "numbers"
        if _entities_conflict(a, b):
            return "entities"
        if not _contrasts_agree(sa.contrasts, sb.contrasts):
            return "opposite words"
        if _one_sided(sa.contrasts, sb.contrasts):
            return "comparison added"
        if a.negated != b.negated:
            return "negation"
        if (
            _roles_swapped(a.words, b.words)
            or _transposed(a, b)
            or _blocks_exchanged(a, b)
            or {a.wh_role, b.wh_role} == {"subject", "object"}
        ):
            return "roles swapped"
        for left, right in _OPPOSITES:
            ta, tb = a.terms.keys(), b.terms.keys()
            if (left & ta and right & tb and not right & ta) or (
                right & ta and left & tb and not left & ta
            ):
                return "opposite words"
        return None

    def verdict(self, asked: str, cached: str, cosine: float) -> Verdict:
        a, b = self.evidence(asked), self.evidence(cached)
        failed = self.hard_check(a, b)
        if failed is not None:
            return Verdict(False, float("-inf"), failed)
        s = self.score(a, b, cosine)
        ok = s >= self.params.accept
        return Verdict(ok, s, "accepted" if ok else "score")

    def accepts(self, asked: str, cached: str, cosine: float) -> bool:
        return self.verdict(asked, cached, cosine).accepted


def verifier_for(settings: Any, index: Any) -> HitVerifier | None:
    """The verifier ``settings`` choose for one index version's term statistics (None: the
    signature check only): the service's and ``tandem cache explain``'s one rule."""
    if settings.semantic_verifier != "evidence":
        return None
    params = VerifierParams(
        accept=settings.semantic_accept,
        overlap_weight=settings.semantic_overlap_weight,
        miss_weight=settings.semantic_miss_weight,
    )
    return HitVerifier(TermStats.of_index(index), params)
