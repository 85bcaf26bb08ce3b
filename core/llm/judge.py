"""The pair judge: does a second question ask for the same information as the first?

No pair model (cross-encoder, NLI) installs here; the deep tier's model reads two questions
together. It is asked for one token, yes or no, and the score is p(yes) / (p(yes) + p(no)) from
the first token's log-probabilities (greedy, temperature 0). The score is a ranking, not a
probability: most distinct pairs still score above 0.5 (the model leans to "yes"), so the
cut is chosen on labelled pairs (``bench/bench_judge.py``), never 0.5 by default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from core.llm.base import ChatMessage

JUDGE_SYSTEM = (
    "You compare two questions a user might ask about a document. Reply yes when they ask for "
    "the same information (the same answer would be correct for both), even if worded "
    "differently; reply no when they ask for different information (other people, numbers, "
    "dates, places, roles or conditions). Reply with one word: yes or no."
)


def judge_messages(first: str, second: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": f"Question A: {first.strip()}\nQuestion B: {second.strip()}\n"
            "Do A and B ask for the same information? Answer yes or no.",
        },
    ]


def yes_share(logprobs: Mapping[str, float]) -> float:
    """p(yes) / (p(yes) + p(no)) over the first-token candidates (any case, leading spaces);
    0.0 when neither appears."""
    yes = no = 0.0
    for token, logprob in logprobs.items():
        word = token.strip().lower()
        if word == "yes":
            yes += math.exp(logprob)
        elif word == "no":
            no += math.exp(logprob)
    return yes / (yes + no) if yes + no > 0 else 0.0


@runtime_checkable
class LogprobLLM(Protocol):
    model_id: str

    def first_token_logprobs(
        self, messages: list[ChatMessage], *, top: int = 10
    ) -> dict[str, float]: ...


class PairJudge:
    """Scores question pairs with an LLM that reports first-token log-probabilities (the
    OpenAI-compatible client: an engine or an upstream)."""

    def __init__(self, llm: LogprobLLM) -> None:
        self.llm = llm

    @property
    def model_id(self) -> str:
        return self.llm.model_id

    def score(self, first: str, second: str) -> float:
        """How surely ``second`` asks what ``first`` asks (0-1, a ranking score)."""
        return yes_share(self.llm.first_token_logprobs(judge_messages(first, second)))

    def score_both(self, first: str, second: str) -> float:
        """The mean of both orders' scores: the order the model reads them in sways it (the
        tune half of ``bench/data/question_pairs.jsonl``: AUC 0.946 one way, 0.971 the other,
        0.979 their mean; ``bench/pair_table.py``). What ``judge_cut`` is calibrated on."""
        return (self.score(first, second) + self.score(second, first)) / 2.0
