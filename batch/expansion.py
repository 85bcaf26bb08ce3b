"""Offline expansion of hot answers (issue 24 item 2): while a hot question is precomputed, the
deep model writes paraphrases of it, the pair judge keeps those that ask for the same
information, and each kept one becomes an alias: a cache entry of its own (exact key and
semantic vector) holding the same answer, so a reworded question is a plain lookup at request
time. The judge's work is bounded: one generation and at most ``paraphrases`` judgments a hot
question. Aliases carry ``alias_of`` (the original's key hash) and the entry's TTL and scope,
so they expire and are purged with it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from core.answering import Answerer, ComputedAnswer
from core.llm.base import ChatMessage
from core.llm.judge import LogprobLLM, PairJudge
from shared_schemas.hashing import normalize_question, question_key_hash

log = logging.getLogger(__name__)

PARAPHRASE_SYSTEM = (
    "You rewrite questions. Given a question, write other ways a person might ask for exactly "
    "the same information: different words and word order, the same meaning, the same names, "
    "numbers and dates. One question a line, no numbering, nothing else."
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s*")
MAX_CHARS = 300


def paraphrase_messages(question: str, n: int) -> list[ChatMessage]:
    return [
        {"role": "system", "content": PARAPHRASE_SYSTEM},
        {"role": "user", "content": f"Write {n} rewordings of: {question.strip()}"},
    ]


def parse_paraphrases(text: str, question: str, n: int) -> list[str]:
    """Up to ``n`` distinct lines of ``text`` that are questions other than ``question``."""
    seen = {normalize_question(question)}
    out: list[str] = []
    for line in text.splitlines():
        candidate = _BULLET.sub("", line).strip().strip('"').strip()
        key = normalize_question(candidate)
        if not key or key in seen or len(candidate) > MAX_CHARS or len(key.split()) < 2:
            continue
        seen.add(key)
        out.append(candidate)
        if len(out) == n:
            break
    return out


@dataclass(frozen=True)
class Alias:
    question: str
    score: float


def expand(
    answerer: Answerer,
    question: str,
    *,
    n: int,
    cut: float,
    prompt: str = "p2",
    answer: str | None = None,
) -> tuple[list[Alias], int]:
    """(the paraphrases of ``question`` the judge keeps, how many it judged). Needs an LLM
    that reports first-token log-probabilities (the engine or an upstream); none: nothing.
    ``answer``: the question's answer, which an answer-aware judge prompt reads."""
    llm = answerer.llm
    if n <= 0 or not isinstance(llm, LogprobLLM):
        return [], 0
    text = llm.generate(paraphrase_messages(question, n), max_new_tokens=40 * n)  # type: ignore[attr-defined]
    candidates = parse_paraphrases(text, question, n)
    judge = PairJudge(llm, prompt=prompt)
    kept = []
    for candidate in candidates:
        score = judge.score_pair(question, candidate, answer)
        if score > cut:
            kept.append(Alias(candidate, score))
    log.info("expanded question=%r judged=%d kept=%d", question[:80], len(candidates), len(kept))
    return kept, len(candidates)


def alias_answer(answerer: Answerer, original: ComputedAnswer, alias: str) -> ComputedAnswer:
    """The original's answer under the alias's own key and vector."""
    computed = answerer.computed(
        alias,
        original.answer,
        original.hits,
        answerer.embed(alias),
        index_version=original.index_version,
        llm_model=original.llm_model,
        prompt_version=original.prompt_version,
        produced_by=original.produced_by,
    )
    assert computed.question_hash == question_key_hash(alias)
    return computed
