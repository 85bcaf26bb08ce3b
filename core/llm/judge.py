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


#: worked examples for the few-shot prompt ("p2"): none from SQuAD (the pair sets are drawn from
#: its dev set); the styles people write on the "yes" side, the hard negatives on the "no" side
JUDGE_EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("What is the height of the Eiffel Tower?", "how tall is the eiffel tower", "yes"),
    ("Who hired the new coach?", "Whom did the new coach hire?", "no"),
    ("When did the bridge open to traffic?", "bridge opening date", "yes"),
    ("What did Edison invent in 1879?", "What did Edison invent in 1877?", "no"),
    ("Which company makes the iPhone?", "Who manufactures the iPhone?", "yes"),
    ("What is the largest lake in Africa?", "What is the smallest lake in Africa?", "no"),
    ("Why did the empire collapse?", "tell me the reason the empire fell", "yes"),
    ("Where was the treaty signed?", "When was the treaty signed?", "no"),
    ("How many people live in Lagos?", "whats the populaton of lagos", "yes"),
    ("Which river did the army not cross?", "Which river did the army cross?", "no"),
)


#: more worked examples for "p3" (after :data:`JUDGE_EXAMPLES`): rewordings that change the
#: words and the grammar but not the information (a synonym, the passive, a noun for a verb,
#: keywords), and questions on the same subject that ask for another of its attributes
JUDGE_MORE_EXAMPLES: tuple[tuple[str, str, str], ...] = (
    (
        "What did the committee recommend in its final report?",
        "In its final report, what was the committee's recommendation?",
        "yes",
    ),
    ("What is the capital of Peru?", "Where is Peru located?", "no"),
    ("What does the enzyme break down?", "Which substance is broken down by the enzyme?", "yes"),
    ("What did the museum's founder collect?", "Who founded the museum?", "no"),
    (
        "Who was the first woman to fly across the Atlantic?",
        "first female pilot to cross the atlantic",
        "yes",
    ),
    ("How long is the Danube?", "How deep is the Danube?", "no"),
)


#: the answer-aware prompt ("a1"): the cached question is read with the answer the cache holds
#: for it, and the model decides whether that answer answers the new question. One order only
#: (the answer belongs to the cached question). Worked examples, none from SQuAD.
ANSWER_SYSTEM = (
    "A cache holds an earlier question and the answer given to it. Decide whether that answer "
    "can be served for a new question. Reply yes only when the new question asks for the same "
    "information, so the cached answer is a correct and complete answer to it, however it is "
    "worded; reply no when it asks for something else (another person, number, date, place, "
    "role, attribute or condition), even about the same subject. Reply with one word: yes or no."
)

ANSWER_EXAMPLES: tuple[tuple[str, str, str, str], ...] = (
    (
        "What is the height of the Eiffel Tower?",
        "330 metres",
        "how tall is the eiffel tower",
        "yes",
    ),
    ("Who hired the new coach?", "the club's owner", "Whom did the new coach hire?", "no"),
    ("When did the bridge open to traffic?", "in 1932", "bridge opening date", "yes"),
    (
        "What did Edison invent in 1879?",
        "a practical incandescent light bulb",
        "What did Edison invent in 1877?",
        "no",
    ),
    ("Which company makes the iPhone?", "Apple", "Who manufactures the iPhone?", "yes"),
    ("What is the capital of Peru?", "Lima", "Where is Peru located?", "no"),
    (
        "Why did the empire collapse?",
        "economic decline and invasions",
        "tell me the reason the empire fell",
        "yes",
    ),
    ("Where was the treaty signed?", "Versailles", "When was the treaty signed?", "no"),
    ("How many people live in Lagos?", "about 15 million", "whats the populaton of lagos", "yes"),
    ("Which river did the army not cross?", "the Rhine", "Which river did the army cross?", "no"),
    (
        "What does the enzyme break down?",
        "starch",
        "Which substance is broken down by the enzyme?",
        "yes",
    ),
    (
        "What replaced the old tram line?",
        "a bus route",
        "What did the old tram line replace?",
        "no",
    ),
    (
        "Who was the first woman to fly across the Atlantic?",
        "Amelia Earhart",
        "first female pilot to cross the atlantic",
        "yes",
    ),
    ("What did the museum's founder collect?", "Roman coins", "Who founded the museum?", "no"),
)

#: the most of a cached answer the answer-aware judge reads (characters)
ANSWER_CHARS = 300


def _ask_answer(cached: str, answer: str, asked: str) -> str:
    answer = " ".join(answer.split())
    if len(answer) > ANSWER_CHARS:
        answer = answer[:ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
    return (
        f"Cached question: {cached.strip()}\nCached answer: {answer}\n"
        f"New question: {asked.strip()}\n"
        "Does the cached answer answer the new question? Answer yes or no."
    )


def answer_messages(cached: str, answer: str, asked: str) -> list[ChatMessage]:
    """The answer-aware judge's chat ("a1"): :data:`ANSWER_EXAMPLES` as earlier turns (a
    shared prefix), then the cached question, its answer and the asked question."""
    messages: list[ChatMessage] = [{"role": "system", "content": ANSWER_SYSTEM}]
    for q, a, b, verdict in ANSWER_EXAMPLES:
        messages.append({"role": "user", "content": _ask_answer(q, a, b)})
        messages.append({"role": "assistant", "content": verdict})
    messages.append({"role": "user", "content": _ask_answer(cached, answer, asked)})
    return messages


#: the prompts that read the cached answer (one order, :meth:`PairJudge.score_pair`)
ANSWER_PROMPTS = frozenset({"a1"})


def _ask(first: str, second: str) -> str:
    return (
        f"Question A: {first.strip()}\nQuestion B: {second.strip()}\n"
        "Do A and B ask for the same information? Answer yes or no."
    )


def judge_messages(first: str, second: str, *, prompt: str = "p2") -> list[ChatMessage]:
    """The judge's chat: ``p1`` the instruction alone, ``p2`` with :data:`JUDGE_EXAMPLES` as
    earlier turns (a shared prefix: the engine's prompt cache reads it once per slot), ``p3``
    with :data:`JUDGE_MORE_EXAMPLES` after them."""
    messages: list[ChatMessage] = [{"role": "system", "content": JUDGE_SYSTEM}]
    examples = {"p1": (), "p2": JUDGE_EXAMPLES, "p3": JUDGE_EXAMPLES + JUDGE_MORE_EXAMPLES}
    if prompt not in examples:
        raise ValueError(f"unknown question-pair judge prompt {prompt!r} (p1, p2 or p3)")
    for a, b, verdict in examples[prompt]:
        messages.append({"role": "user", "content": _ask(a, b)})
        messages.append({"role": "assistant", "content": verdict})
    messages.append({"role": "user", "content": _ask(first, second)})
    return messages


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

    def __init__(self, llm: LogprobLLM, *, prompt: str = "p2") -> None:
        if prompt not in ANSWER_PROMPTS:
            judge_messages("a", "b", prompt=prompt)  # refuses an unknown prompt now, not per pair
        self.llm = llm
        self.prompt = prompt

    @property
    def model_id(self) -> str:
        return self.llm.model_id

    @property
    def reads_answer(self) -> bool:
        """Whether the prompt reads the cached answer (one order) or two questions (both)."""
        return self.prompt in ANSWER_PROMPTS

    def score(self, first: str, second: str) -> float:
        """How surely ``second`` asks what ``first`` asks (0-1, a ranking score); a question
        pair prompt only."""
        messages = judge_messages(first, second, prompt=self.prompt)
        return yes_share(self.llm.first_token_logprobs(messages))

    def score_answer(self, cached: str, answer: str, asked: str) -> float:
        """How surely ``answer``, cached for ``cached``, answers ``asked`` (0-1, a ranking
        score): the answer-aware prompt, one order."""
        return yes_share(self.llm.first_token_logprobs(answer_messages(cached, answer, asked)))

    def score_pair(self, cached: str, asked: str, answer: str | None = None) -> float:
        """The score a cut is calibrated on: the answer-aware prompt with the cached answer
        when it reads one (and ``answer`` is known), else :meth:`score_both`."""
        if self.reads_answer:
            if answer is None:
                raise ValueError(
                    f"judge prompt {self.prompt!r} reads the cached answer: none given"
                )
            return self.score_answer(cached, answer, asked)
        return self.score_both(cached, asked)

    def score_both(self, first: str, second: str) -> float:
        """The mean of both orders' scores: the order the model reads them in sways it (the
        tune half of ``bench/data/question_pairs.jsonl``: AUC 0.946 one way, 0.971 the other,
        0.979 their mean; ``bench/pair_table.py``). What ``judge_cut`` is calibrated on."""
        return (self.score(first, second) + self.score(second, first)) / 2.0
