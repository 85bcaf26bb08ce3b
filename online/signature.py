"""Moved to :mod:`core.matching.signature`; this name remains for ``online/cache/verifier.py``
until the verifier moves into ``core/matching`` too (issue 25 item 3)."""

from core.matching.signature import (
    _CONTRAST_PAIRS,
    QuestionSignature,
    _contrasts_agree,
    question_signature,
    signatures_agree,
)

__all__ = [
    "_CONTRAST_PAIRS",
    "QuestionSignature",
    "_contrasts_agree",
    "question_signature",
    "signatures_agree",
]
