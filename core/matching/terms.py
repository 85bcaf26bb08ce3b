"""The term statistics the hit verifier weighs words by: an index's BM25 document frequencies and
the tokenizer that produced them (``core.matching.verifier``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.index.lexical import Tokenizer, default_lexical_config


@dataclass(frozen=True)
class TermStats:
    """Document frequencies of the index's lexical side and the tokenizer that produced them."""

    tokenize: Callable[[str], list[str]]
    document_frequency: Mapping[str, int]
    documents: int

    def idf(self, term: str) -> float:
        """BM25's IDF (``ln(1 + (N - df + 0.5) / (df + 0.5))``); unseen terms weigh the most."""
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))

    @property
    def max_idf(self) -> float:
        return math.log(1.0 + (self.documents + 0.5) / 0.5)

    @classmethod
    def from_texts(cls, tokenize: Callable[[str], list[str]], texts: Iterable[str]) -> TermStats:
        df: dict[str, int] = {}
        n = 0
        for text in texts:
            n += 1
            for term in set(tokenize(text)):
                df[term] = df.get(term, 0) + 1
        return cls(tokenize, df, n)

    @classmethod
    def of_index(cls, index: object) -> TermStats:
        """The statistics of a loaded index's lexical side (``LoadedIndex.term_statistics``);
        an index without one gives every word the same weight (default tokenizer)."""
        method = getattr(index, "term_statistics", None)
        got = method() if callable(method) else None
        if got is None:
            return cls(Tokenizer(default_lexical_config()), {}, 1)
        tokenize, df, documents = got
        return cls(tokenize, df, documents)
