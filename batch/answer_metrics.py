"""SQuAD answer scores: exact match and token F1 with the official v1.1 normalisation.

``normalize_answer`` is the official script's: lower case, punctuation removed, the articles
``a``/``an``/``the`` removed, whitespace collapsed. A prediction is scored against each gold
answer and keeps its best score (as ``evaluate-v1.1.py`` does). ``contains_gold`` is the looser
"does the answer say it somewhere": a normalised gold answer occurs in the normalised answer as
a run of whole tokens.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def token_f1(prediction: str, gold: str) -> float:
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_gold(prediction: str, gold: str) -> bool:
    ref = normalize_answer(gold)
    return bool(ref) and f" {ref} " in f" {normalize_answer(prediction)} "


def best_scores(prediction: str, golds: Sequence[str]) -> tuple[bool, float, bool]:
    """``(exact match, F1, contains a gold answer)``, each the best over ``golds``."""
    if not golds:
        return False, 0.0, False
    return (
        any(exact_match(prediction, g) for g in golds),
        max(token_f1(prediction, g) for g in golds),
        any(contains_gold(prediction, g) for g in golds),
    )
