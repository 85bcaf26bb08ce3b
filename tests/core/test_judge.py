"""The pair judge: yes/no first-token probabilities of the deep tier's model (issue 24 item 1).
Pure logic on a fake, then the real llama.cpp engine (the tiny model) through the same client."""

from __future__ import annotations

import math

import pytest

from core.llm.judge import PairJudge, judge_messages, yes_share


class Scripted:
    model_id = "scripted"

    def __init__(self, logprobs: dict[str, float]) -> None:
        self.logprobs = logprobs
        self.seen: list[list[dict[str, str]]] = []

    def first_token_logprobs(self, messages: list, *, top: int = 10) -> dict[str, float]:  # type: ignore[type-arg]
        self.seen.append(messages)
        return self.logprobs


@pytest.mark.unit
def test_yes_share_weighs_yes_against_no_in_any_case() -> None:
    assert yes_share({"Yes": math.log(0.6), " no": math.log(0.2), "The": math.log(0.2)}) == (
        pytest.approx(0.75)
    )
    assert yes_share({"yes": math.log(0.1), "YES": math.log(0.1), "No": math.log(0.2)}) == (
        pytest.approx(0.5)
    )
    assert yes_share({"Maybe": 0.0}) == 0.0


@pytest.mark.unit
def test_the_judge_asks_both_questions_once() -> None:
    llm = Scripted({"yes": math.log(0.9), "no": math.log(0.1)})
    judge = PairJudge(llm)
    assert judge.score(" Who won? ", "Who was the winner?") == pytest.approx(0.9)
    (messages,) = llm.seen
    assert messages == judge_messages("Who won?", "Who was the winner?")
    assert "Question A: Who won?\nQuestion B: Who was the winner?" in messages[-1]["content"]


@pytest.mark.unit
def test_score_both_is_the_mean_of_both_orders() -> None:
    class ByOrder:
        model_id = "by-order"

        def first_token_logprobs(self, messages: list, *, top: int = 10) -> dict[str, float]:  # type: ignore[type-arg]
            yes = 0.9 if "Question A: Who won?" in messages[-1]["content"] else 0.5
            return {"yes": math.log(yes), "no": math.log(1 - yes)}

    judge = PairJudge(ByOrder())
    assert judge.score("Who won?", "Who was the winner?") == pytest.approx(0.9)
    assert judge.score("Who was the winner?", "Who won?") == pytest.approx(0.5)
    assert judge.score_both("Who won?", "Who was the winner?") == pytest.approx(0.7)
    assert judge.score_both("Who was the winner?", "Who won?") == pytest.approx(0.7)


@pytest.mark.integration
def test_the_engine_reports_first_token_logprobs() -> None:
    from core.llm.factory import build_llm
    from shared_schemas.config import CommonSettings

    llm = build_llm(CommonSettings(llm_engine_threads=1, llm_engine_parallel=1))
    try:
        logprobs = llm.first_token_logprobs(judge_messages("Who won?", "Who was the winner?"))  # type: ignore[attr-defined]
        assert len(logprobs) == 10
        assert all(v <= 0.0 for v in logprobs.values())
        assert {"yes", "no"} & {t.strip().lower() for t in logprobs}
        assert 0.0 <= PairJudge(llm).score("Who won?", "Who lost?") <= 1.0  # type: ignore[arg-type]
    finally:
        llm.close()


def test_the_few_shot_prompt_puts_its_examples_before_the_pair_and_refuses_unknown_names() -> None:
    from core.llm.judge import JUDGE_EXAMPLES, JUDGE_MORE_EXAMPLES

    one = judge_messages("Who won?", "Who was the winner?", prompt="p2")
    assert len(one) == 1 + 2 * len(JUDGE_EXAMPLES) + 1
    assert [m["role"] for m in one[1:3]] == ["user", "assistant"]
    assert {m["content"] for m in one if m["role"] == "assistant"} == {"yes", "no"}
    assert one[-1] == judge_messages("Who won?", "Who was the winner?")[-1]
    other = judge_messages("Where?", "When?", prompt="p2")
    assert one[:-1] == other[:-1]  # a shared prefix: the engine's prompt cache reuses it
    more = judge_messages("Who won?", "Who was the winner?", prompt="p3")
    assert len(more) == 1 + 2 * (len(JUDGE_EXAMPLES) + len(JUDGE_MORE_EXAMPLES)) + 1
    assert more[: len(one) - 1] == one[:-1]  # p2's examples first, then the others
    with pytest.raises(ValueError, match="p4"):
        PairJudge(object(), prompt="p4")  # type: ignore[arg-type]


@pytest.mark.unit
def test_the_answer_aware_prompt_reads_the_cached_answer_once_in_one_order() -> None:
    from core.llm.judge import ANSWER_CHARS, ANSWER_EXAMPLES, answer_messages

    llm = Scripted({"yes": math.log(0.8), "no": math.log(0.2)})
    judge = PairJudge(llm, prompt="a1")
    assert judge.reads_answer
    long = "Nairobi " + "and more " * 100
    assert judge.score_pair("What is Kenya's capital?", "kenya capital city", long) == (
        pytest.approx(0.8)
    )
    (messages,) = llm.seen  # one order only: the answer belongs to the cached question
    assert len(messages) == 1 + 2 * len(ANSWER_EXAMPLES) + 1
    last = messages[-1]["content"]
    assert last.startswith("Cached question: What is Kenya's capital?\nCached answer: Nairobi and")
    assert "\nNew question: kenya capital city\n" in last
    answer_line = last.split("Cached answer: ", 1)[1].split("\n", 1)[0]
    assert len(answer_line) <= ANSWER_CHARS + 4
    assert answer_line.endswith(" ...")
    # the examples are a shared prefix, and half of them say no
    assert messages[:-1] == answer_messages("a", "b", "c")[:-1]
    verdicts = [m["content"] for m in messages if m["role"] == "assistant"]
    assert verdicts.count("no") == verdicts.count("yes")
    with pytest.raises(ValueError, match="cached answer"):
        judge.score_pair("What is Kenya's capital?", "kenya capital city")


@pytest.mark.unit
def test_a_question_pair_prompt_scores_both_orders_whatever_the_answer() -> None:
    llm = Scripted({"yes": math.log(0.6), "no": math.log(0.4)})
    judge = PairJudge(llm, prompt="p2")
    assert not judge.reads_answer
    assert judge.score_pair("Who won?", "Who was the winner?", "Denver") == pytest.approx(0.6)
    assert len(llm.seen) == 2
    assert all("Denver" not in m[-1]["content"] for m in llm.seen)
