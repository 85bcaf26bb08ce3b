"""Token chunking: window limits, overlap, word boundaries, determinism."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from batch.ingest.chunking import Chunker, load_tokenizer, window_bounds
from shared_schemas import Document
from tests.batch.conftest import squad_slice

SIZE, OVERLAP = 64, 16


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return Chunker(load_tokenizer(), size=SIZE, overlap=OVERLAP)


@pytest.fixture(scope="module")
def long_doc() -> Document:
    paragraphs = [p["context"] for a in squad_slice(6)["data"] for p in a["paragraphs"]]
    return Document(doc_id="long", title="Long", text=" ".join(paragraphs))


def _ids(chunker: Chunker, text: str) -> list[int]:
    return list(chunker.tokenizer.encode(text, add_special_tokens=False).ids)


def test_windows_respect_size_and_overlap(chunker: Chunker, long_doc: Document) -> None:
    spans = chunker.spans(long_doc.text)
    n = len(_ids(chunker, long_doc.text))
    assert n > 5 * SIZE
    assert spans[0].start == 0
    assert spans[-1].end == n
    assert all(s.n_tokens <= SIZE for s in spans)
    for prev, cur in itertools.pairwise(spans):
        assert prev.start < cur.start  # progress
        shared = prev.end - cur.start
        assert OVERLAP <= shared < SIZE


def test_chunk_text_retokenises_to_its_window(chunker: Chunker, long_doc: Document) -> None:
    all_ids = _ids(chunker, long_doc.text)
    spans = chunker.spans(long_doc.text)
    chunks = chunker.chunk(long_doc)
    assert len(chunks) == len(spans)
    for span, chunk in zip(spans, chunks, strict=True):
        assert chunk.n_tokens == span.n_tokens <= SIZE
        assert _ids(chunker, chunk.text) == all_ids[span.start : span.end]  # no word split
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    # adjacent chunks share their overlap as text too
    assert chunks[1].text.split()[0] in chunks[0].text


def test_short_document_is_one_chunk(chunker: Chunker) -> None:
    doc = Document(doc_id="s", text="A short document.")
    [chunk] = chunker.chunk(doc)
    assert chunk.text == "A short document."
    assert chunk.n_tokens == 4


def test_same_document_same_chunk_ids(chunker: Chunker, long_doc: Document) -> None:
    first = [c.chunk_id for c in chunker.chunk(long_doc)]
    assert first == [c.chunk_id for c in chunker.chunk(long_doc)]
    assert len(set(first)) == len(first)


def _word_starts(pattern: str) -> list[bool]:
    return [ch == "W" for ch in pattern]


def test_window_bounds_move_back_to_word_starts() -> None:
    # words of 3 tokens: W.. W.. W.. ; size 7 would split the third word -> cut at token 6
    starts = _word_starts("W..W..W..W..")
    bounds = window_bounds(starts, 7, 2)
    assert bounds[0] == (0, 6)
    assert all(starts[s] for s, _ in bounds)
    assert bounds[-1][1] == len(starts)


def test_window_bounds_cut_hard_inside_a_giant_word() -> None:
    starts = _word_starts("W" + "." * 30)
    bounds = window_bounds(starts, 8, 3)
    assert all(e - s <= 8 for s, e in bounds)
    assert [s for s, _ in bounds] == sorted({s for s, _ in bounds})
    assert bounds[-1][1] == 31


def _all_windows(n: int, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    yield from window_bounds([True] * n, size, overlap)


def test_window_bounds_exact_when_every_token_starts_a_word() -> None:
    assert list(_all_windows(10, 4, 1)) == [(0, 4), (3, 7), (6, 10)]
    assert list(_all_windows(0, 4, 1)) == []
    with pytest.raises(ValueError, match="overlap < size"):
        window_bounds([True], 4, 4)
