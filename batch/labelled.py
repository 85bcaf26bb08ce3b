"""Labelled retrieval sets: SQuAD JSON(.gz) and JSONL ``{question, relevant_doc_ids}``.

SQuAD paragraphs come from :func:`batch.ingest.squad.iter_squad_paragraphs`, the iterator ingest
uses too, so a question's gold paragraph is found under the same id the index stores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch.corpus import read_bytes
from batch.errors import BatchError
from batch.ingest.squad import (
    SquadFormatError,
    SquadParagraph,
    iter_squad_paragraphs,
    squad_articles,
    squad_doc_id,
    squad_title,
)

__all__ = [
    "LabelledQuestion",
    "LabelledSetError",
    "SquadParagraph",
    "iter_squad_paragraphs",
    "read_labelled",
    "read_squad",
    "squad_doc_id",
    "squad_title",
]


class LabelledSetError(BatchError, ValueError):
    """A labelled set could not be read."""


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    relevant_doc_ids: frozenset[str]


def read_squad(path: Path) -> dict[str, Any]:
    """A parsed SQuAD file, its structure checked."""
    try:
        data = json.loads(read_bytes(path))
    except (OSError, EOFError, ValueError) as exc:
        raise LabelledSetError(f"{path}: not readable as JSON ({exc})") from exc
    try:
        squad_articles(data)
    except SquadFormatError as exc:
        raise LabelledSetError(f"{path}: {exc}") from exc
    return dict(data)


def read_labelled(path: Path) -> list[LabelledQuestion]:
    """Questions with their relevant document ids, from SQuAD JSON(.gz) or JSONL."""
    path = Path(path)
    if not path.is_file():
        raise LabelledSetError(f"labelled set {path} does not exist")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return _read_jsonl(path)
    data = read_squad(path)
    return [
        LabelledQuestion(q, frozenset({p.doc_id}))
        for p in iter_squad_paragraphs(data)
        for q in p.questions
    ]


def _read_jsonl(path: Path) -> list[LabelledQuestion]:
    out: list[LabelledQuestion] = []
    try:
        text = read_bytes(path).decode("utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise LabelledSetError(f"{path}: cannot read: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = str(row["question"]).strip()
            rel = row["relevant_doc_ids"]
            if isinstance(rel, str):
                rel = [rel]
            ids = frozenset(str(r) for r in rel)
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelledSetError(
                f"{path}:{lineno}: expected {{question, relevant_doc_ids}} ({exc})"
            ) from exc
        if question and ids:
            out.append(LabelledQuestion(question, ids))
    if not out:
        raise LabelledSetError(f"{path}: no labelled questions")
    return out
