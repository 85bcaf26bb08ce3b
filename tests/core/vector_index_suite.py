"""Conformance suite of the VectorIndex port (search one loaded version)."""

from __future__ import annotations

import numpy as np
import pytest

from core.encoder import HashingEncoder
from core.index.search import Hit
from shared_schemas.hashing import chunk_id_for, content_hash, normalize_text

DOCS = [
    ("paris", "Paris", "Paris is the capital and largest city of France."),
    ("berlin", "Berlin", "Berlin is the capital of Germany."),
    ("nile", "Nile", "The Nile is a river in Africa, about 6,650 kilometres long."),
    ("everest", "Everest", "Mount Everest is the highest mountain on Earth."),
    ("python", "Python", "Python is a programming language created in 1991."),
]
ENCODER = HashingEncoder(dimension=64)


def corpus() -> tuple[list[Hit], np.ndarray]:
    hits = [
        Hit(chunk_id_for(d, normalize_text(x)), d, t, x, content_hash(x), 0.0) for d, t, x in DOCS
    ]
    return hits, ENCODER.encode([h.text for h in hits])


class VectorIndexContract:
    """Subclasses provide a fixture ``index`` holding :func:`corpus` as version ``VERSION``."""

    VERSION = "20240101-aaaaaaaa"

    def _q(self, text: str) -> np.ndarray:
        return ENCODER.encode([text])[0]

    def test_version(self, index: object) -> None:
        assert index.version == self.VERSION  # type: ignore[attr-defined]

    @pytest.mark.parametrize("lexical", [False, True])
    def test_a_chunks_own_text_finds_it_first(self, index: object, lexical: bool) -> None:
        for doc_id, _, text in DOCS:
            hits = index.search(self._q(text), text, 3, lexical=lexical)  # type: ignore[attr-defined]
            assert hits[0].doc_id == doc_id

    def test_at_most_k_best_first(self, index: object) -> None:
        hits = index.search(self._q("capital city"), "capital city", 3)  # type: ignore[attr-defined]
        assert 1 <= len(hits) <= 3
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert len({h.chunk_id for h in hits}) == len(hits)
        assert index.search(self._q("x"), "x", 0) == []  # type: ignore[attr-defined]
        assert len(index.search(self._q("x"), "x", 50)) <= len(DOCS)  # type: ignore[attr-defined]

    def test_hits_carry_the_chunk(self, index: object) -> None:
        hits, _ = corpus()
        got = index.search(self._q(DOCS[2][2]), DOCS[2][2], 1)[0]  # type: ignore[attr-defined]
        want = hits[2]
        assert (got.chunk_id, got.doc_id, got.title, got.text, got.content_hash) == (
            want.chunk_id,
            want.doc_id,
            want.title,
            want.text,
            want.content_hash,
        )

    def test_chunk_lookup(self, index: object) -> None:
        hits, _ = corpus()
        found = index.chunk(hits[1].chunk_id)  # type: ignore[attr-defined]
        assert found is not None
        assert found.doc_id == "berlin"
        assert found.text == hits[1].text
        assert index.chunk("no-such-chunk") is None  # type: ignore[attr-defined]

    def test_wrong_dimension_is_a_value_error(self, index: object) -> None:
        with pytest.raises(ValueError, match="dimension"):
            index.search(np.ones(8, dtype=np.float32), "q", 3)  # type: ignore[attr-defined]
