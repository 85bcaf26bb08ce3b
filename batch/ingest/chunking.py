"""Token-window chunking with overlap, using the embedding model's own tokenizer.

Windows hold at most ``size`` word-piece tokens (special tokens not counted) and start
``size - overlap`` tokens after the previous one. Both edges are moved back to the start of a
word, so a chunk never splits a word: its text re-tokenises to the same tokens, and adjacent
chunks share at least ``overlap`` tokens. Only a single word longer than a window is cut hard.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shared_schemas import Chunk, Document

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)


def load_tokenizer(model_path: Path | None = None) -> Tokenizer:
    """The fast tokenizer of the embedding model, with truncation and padding turned off."""
    from core.encoder import bundled_model_path

    folder = model_path or bundled_model_path()
    tokenizer_file = folder / "tokenizer.json"
    if tokenizer_file.exists():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_file))
    else:  # a model folder without tokenizer.json: let transformers build the fast tokenizer
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), use_fast=True).backend_tokenizer
    tok.no_truncation()
    tok.no_padding()
    return tok


@dataclass(frozen=True)
class TokenSpan:
    """Tokens ``[start, end)`` of a document and the characters they cover."""

    start: int
    end: int
    char_start: int
    char_end: int

    @property
    def n_tokens(self) -> int:
        return self.end - self.start


def window_bounds(word_starts: Sequence[bool], size: int, overlap: int) -> list[tuple[int, int]]:
    """Token windows ``[start, end)`` over ``len(word_starts)`` tokens; see the module doc."""
    if not 0 <= overlap < size:
        raise ValueError("need 0 <= overlap < size")
    n = len(word_starts)
    if n == 0:
        return []
    bounds: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + size, n)
        if end < n:
            cut = end
            while cut > start + overlap + 1 and not word_starts[cut]:
                cut -= 1
            if word_starts[cut] and cut > start + overlap:
                end = cut
        bounds.append((start, end))
        if end >= n:
            return bounds
        nxt = end - overlap
        back = nxt
        while back > start + 1 and not word_starts[back]:
            back -= 1
        start = back if word_starts[back] and back > start else nxt


class Chunker:
    """Cuts documents into :class:`~shared_schemas.Chunk` objects of bounded token length."""

    def __init__(self, tokenizer: Tokenizer, *, size: int, overlap: int) -> None:
        if not 0 <= overlap < size:
            raise ValueError("chunk overlap must be smaller than the chunk size")
        self.tokenizer = tokenizer
        self.size = size
        self.overlap = overlap

    def spans(self, text: str) -> list[TokenSpan]:
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        offsets, word_ids = enc.offsets, enc.word_ids
        starts = [i == 0 or word_ids[i] != word_ids[i - 1] for i in range(len(offsets))]
        return [
            TokenSpan(s, e, offsets[s][0], offsets[e - 1][1])
            for s, e in window_bounds(starts, self.size, self.overlap)
        ]

    def chunk(self, doc: Document) -> list[Chunk]:
        """Chunks of a normalised document, in order; empty when it has no tokens."""
        chunks: list[Chunk] = []
        seen: set[str] = set()
        for span in self.spans(doc.text):
            piece = doc.text[span.char_start : span.char_end].strip()
            if not piece:
                continue
            chunk = Chunk(
                doc_id=doc.doc_id,
                ordinal=len(chunks),
                title=doc.title,
                text=piece,
                n_tokens=span.n_tokens,
            )
            if chunk.chunk_id in seen:  # a repeated passage: same id, keep the first
                continue
            seen.add(chunk.chunk_id)
            chunks.append(chunk)
        return chunks
