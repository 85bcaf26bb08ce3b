"""Labelled retrieval sets: SQuAD JSON(.gz) and JSONL ``{question, relevant_doc_ids}``.

:func:`squad_doc_id` (defined once, in ``batch.ingest.sources``) is the document id of a SQuAD
paragraph; ingest and evaluation both use it, so a question's gold paragraph is found under the
same id the index stores.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch.ingest.sources import squad_doc_id


class LabelledSetError(ValueError):
    """A labelled set could not be read."""


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    relevant_doc_ids: frozenset[str]


@dataclass(frozen=True)
class SquadParagraph:
    doc_id: str
    title: str
    text: str
    questions: tuple[str, ...]


def squad_title(article_title: str) -> str:
    """Human title of a SQuAD article (``Super_Bowl_50`` -> ``Super Bowl 50``)."""
    return article_title.replace("_", " ")


def _read_json_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def is_squad(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("data"), list)
        and all(isinstance(a, dict) and "paragraphs" in a for a in data["data"][:3])
    )


def iter_squad_paragraphs(data: dict[str, Any]) -> Iterator[SquadParagraph]:
    """Every paragraph of a parsed SQuAD document, with its questions."""
    for a_index, article in enumerate(data["data"]):
        title = str(article.get("title") or f"article-{a_index}")
        for i, para in enumerate(article.get("paragraphs", [])):
            qs = tuple(str(qa["question"]) for qa in para.get("qas", []) if qa.get("question"))
            yield SquadParagraph(
                doc_id=squad_doc_id(title, i),
                title=squad_title(title),
                text=str(para.get("context", "")),
                questions=qs,
            )


def read_squad(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_json_bytes(path))
    except (OSError, ValueError) as exc:
        raise LabelledSetError(f"{path}: not readable as JSON ({exc})") from exc
    if not is_squad(data):
        raise LabelledSetError(f"{path}: not a SQuAD file (no data[].paragraphs)")
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
    text = _read_json_bytes(path).decode("utf-8", errors="replace")
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
