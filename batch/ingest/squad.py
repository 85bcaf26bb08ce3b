"""The SQuAD v1.1 format, walked once for both ingest and evaluation.

Each paragraph of each article is a document with id :func:`squad_doc_id`
(``<article title>#<paragraph index>``); ingest stores it under that id and a labelled set names
the same id as a question's gold document, so both must come from :func:`iter_squad_paragraphs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from batch.errors import BatchError


class SquadFormatError(BatchError, ValueError):
    """Parsed JSON that is not SQuAD-shaped (the caller adds the file name)."""


@dataclass(frozen=True)
class SquadParagraph:
    """One paragraph; ``valid`` is False when it has no string ``context`` (``text`` is "")."""

    doc_id: str
    title: str
    text: str
    questions: tuple[str, ...]
    article: str = ""
    index: int = 0
    valid: bool = True


def squad_doc_id(article_title: str, paragraph_index: int) -> str:
    """Document id of a SQuAD paragraph: ``<article title>#<paragraph index>``."""
    return f"{article_title}#{paragraph_index}"


def squad_title(article_title: str) -> str:
    """Human title of a SQuAD article (``Super_Bowl_50`` -> ``Super Bowl 50``)."""
    return article_title.replace("_", " ")


def squad_articles(data: Any) -> list[dict[str, Any]]:
    """The articles of a parsed SQuAD document; :class:`SquadFormatError` when it is not one."""
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise SquadFormatError("not SQuAD format (no top-level 'data' list)")
    for a_index, article in enumerate(articles):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise SquadFormatError(f"article {a_index} has no 'paragraphs' list")
    return articles


def iter_squad_paragraphs(data: Any) -> Iterator[SquadParagraph]:
    """Every paragraph of a parsed SQuAD document, with its questions, in file order."""
    for a_index, article in enumerate(squad_articles(data)):
        raw_title = str(article.get("title") or f"article-{a_index}")
        for p_index, para in enumerate(article["paragraphs"]):
            para = para if isinstance(para, dict) else {}
            context = para.get("context")
            qas = para.get("qas")
            questions = tuple(
                str(qa["question"])
                for qa in (qas if isinstance(qas, list) else [])
                if isinstance(qa, dict) and qa.get("question")
            )
            yield SquadParagraph(
                doc_id=squad_doc_id(raw_title, p_index),
                title=squad_title(raw_title),
                text=context if isinstance(context, str) else "",
                questions=questions,
                article=raw_title,
                index=p_index,
                valid=isinstance(context, str),
            )
