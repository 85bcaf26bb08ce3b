"""Content-derived identifiers shared by both sides."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")
_PUNCT_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def normalize_text(text: str) -> str:
    """Unicode NFKC, unified whitespace, trimmed: the form chunks are hashed in."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def content_hash(text: str) -> str:
    return sha256_hex(normalize_text(text))


def chunk_id_for(doc_id: str, normalized_text: str) -> str:
    """A chunk's id: derived from its document id and normalised content only."""
    return sha256_hex(f"{doc_id}\x00{normalized_text}")[:32]


def normalize_question(question: str) -> str:
    """Cache key form of a question: case-folded, whitespace collapsed, edge punctuation off.
    A question of punctuation or symbols only (``'???'``, ``'🏈🏆 ?'``) keeps them: stripping
    left every such question the same empty key, and one cached answer for all of them."""
    q = normalize_text(question).casefold()
    stripped = _PUNCT_EDGE.sub("", q)
    return stripped or q


_END_MARKS = re.compile(r"[\s?!.]+$")


def embedding_text(question: str) -> str:
    """The form a question is embedded in for retrieval and the semantic cache: NFKC,
    whitespace collapsed, one question mark at the end (whatever marks it ended with, if any).
    People often leave the mark off, and the int8 MiniLM moves a question a long way for it
    (cosine 0.88 between "How many tonnes of tomatoes does Victoria produce?" and the same
    words without "?"). A question that ends with one "?" is embedded as written, as before; a
    question of marks only keeps them."""
    q = normalize_text(question)
    stripped = _END_MARKS.sub("", q)
    return f"{stripped}?" if stripped else q


def question_key_hash(question: str) -> str:
    return sha256_hex(normalize_question(question))[:32]
