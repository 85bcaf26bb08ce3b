"""Labelled answers from SQuAD: questions with their gold answers, halves by article, a seeded
sample.

The two halves split the *articles* (every question of an article is in one half), so a choice
tuned on the ``tune`` half is reported on the ``test`` half without sharing a paragraph: articles
at even positions of the file are ``tune``, odd ones ``test`` (balanced and stable; SQuAD v1.1
dev: 24 articles each).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from batch.ingest.squad import squad_articles, squad_doc_id
from batch.labelled import LabelledSetError, read_squad

Half = Literal["tune", "test"]
HALVES: tuple[Half, ...] = ("tune", "test")
DEFAULT_SEED = 14


@dataclass(frozen=True)
class AnswerQuestion:
    question: str
    answers: tuple[str, ...]  # the gold answer texts (SQuAD: usually 3, often the same)
    doc_id: str  # the gold paragraph, under the id the index stores
    article: str
    half: Half


def article_half(position: int) -> Half:
    return "tune" if position % 2 == 0 else "test"


def read_answer_questions(path: Path) -> list[AnswerQuestion]:
    """Every SQuAD question that has a gold answer, in file order."""
    data = read_squad(Path(path))
    out: list[AnswerQuestion] = []
    for a_index, article in enumerate(squad_articles(data)):
        title = str(article.get("title") or f"article-{a_index}")
        for p_index, para in enumerate(article["paragraphs"]):
            qas = para.get("qas") if isinstance(para, dict) else None
            for qa in qas if isinstance(qas, list) else []:
                if not isinstance(qa, dict) or not qa.get("question"):
                    continue
                answers = tuple(
                    str(a["text"])
                    for a in qa.get("answers") or []
                    if isinstance(a, dict) and str(a.get("text", "")).strip()
                )
                if answers:
                    out.append(
                        AnswerQuestion(
                            question=str(qa["question"]),
                            answers=answers,
                            doc_id=squad_doc_id(title, p_index),
                            article=title,
                            half=article_half(a_index),
                        )
                    )
    if not out:
        raise LabelledSetError(f"{path}: no questions with gold answers (SQuAD format needed)")
    return out


def sample_questions(
    questions: list[AnswerQuestion], n: int, *, seed: int = DEFAULT_SEED, half: Half | None = None
) -> list[AnswerQuestion]:
    """``n`` questions drawn without replacement by ``seed`` (all when fewer), from one half or
    from all; the same inputs give the same sample, in the same order."""
    if n <= 0:
        raise ValueError("the sample needs at least one question")
    pool = [q for q in questions if half is None or q.half == half]
    if not pool:
        raise LabelledSetError(f"no labelled answers in half {half!r}")
    return random.Random(seed).sample(pool, min(n, len(pool)))
