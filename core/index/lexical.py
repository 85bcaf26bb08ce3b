"""The lexical side's text handling, shared by the index writer and every reader.

The tokenizer is defined once, here: the builder tokenizes chunks with it and the reader
tokenizes questions with the :class:`LexicalConfig` stored beside the bm25 index, so the two agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.errors import IndexLoadError

_WORD = re.compile(r"\w+", re.UNICODE)
# A short English stop list (function words only); kept in code so index and query agree.
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class LexicalConfig:
    """How text is turned into BM25 tokens; stored beside the bm25 index."""

    lowercase: bool = True
    stopwords: bool = True
    stemmer: str | None = None  # a PyStemmer algorithm name ("english"), or None

    def to_json(self) -> str:
        return json.dumps(
            {"lowercase": self.lowercase, "stopwords": self.stopwords, "stemmer": self.stemmer}
        )

    @classmethod
    def from_json(cls, text: str) -> LexicalConfig:
        data = json.loads(text)
        return cls(
            lowercase=bool(data.get("lowercase", True)),
            stopwords=bool(data.get("stopwords", True)),
            stemmer=data.get("stemmer"),
        )


def default_lexical_config() -> LexicalConfig:
    """Stemming when PyStemmer is installed, plain lower-cased words otherwise."""
    try:
        import Stemmer  # noqa: F401  (PyStemmer)
    except ImportError:
        return LexicalConfig(stemmer=None)
    return LexicalConfig(stemmer="english")


_STEM_CACHE_MAX = 500_000


class Tokenizer:
    """Lower-cased word tokens, optional stop-word removal and stemming."""

    def __init__(self, config: LexicalConfig) -> None:
        self.config = config
        self._stem: Any = None
        self._stems: dict[str, str] = {}  # word -> stem; stemming each distinct word once
        if config.stemmer:
            try:
                import Stemmer
            except ImportError as exc:
                raise IndexLoadError(
                    f"lexical index was built with stemmer {config.stemmer!r} but PyStemmer "
                    "is not installed (pip install PyStemmer)"
                ) from exc
            self._stem = Stemmer.Stemmer(config.stemmer).stemWords

    def __call__(self, text: str) -> list[str]:
        if self.config.lowercase:
            text = text.lower()
        words = _WORD.findall(text)
        if self.config.stopwords:
            words = [w for w in words if w not in STOPWORDS]
        if self._stem is not None and words:
            cache = self._stems  # shared by threads: read into a local map, never index it
            local = {w: cache.get(w) for w in set(words)}
            missing = [w for w, stem in local.items() if stem is None]
            if missing:
                stems = dict(zip(missing, self._stem(missing), strict=True))
                local.update(stems)
                if len(cache) > _STEM_CACHE_MAX:
                    cache.clear()
                cache.update(stems)
            words = [local[w] or w for w in words]
        return words


def lexical_text(title: str, text: str) -> str:
    """The text the lexical side indexes for one chunk: title, then body."""
    return f"{title}\n{text}" if title else text
