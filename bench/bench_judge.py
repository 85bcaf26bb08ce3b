"""The pair judge (core/llm/judge.py) on labelled question pairs: how well the deep tier's model
tells a paraphrase from a same-topic different question, and what a judgment costs.

Pairs: ``bench/data/semantic_paraphrases.jsonl`` (each SQuAD dev question with a paraphrase that
must count as the same and a distinct question on the same topic that must not), split by
article before anything is chosen: articles at even positions are the tune half, odd ones the
test half. The cut is chosen on the tune half (the lowest score whose false-hit share there is
at most --delta) and reported on the test half: paraphrase recall beside false hits, each with
its Wilson 95% interval and N; AUC per half; latency per judgment (median with spread, p99) and
the load average. The baseline in the same run is the fast tier's model as judge.

    .venv/bin/python bench/bench_judge.py [--delta 0.01] [--limit 0] [--models deep,fast]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_llm import loadavg, spread  # noqa: E402

from core.llm.factory import build_llm  # noqa: E402
from core.llm.judge import PairJudge  # noqa: E402
from shared_schemas.config import DEEP_LLM_MODEL_ID, FAST_LLM_MODEL_ID, CommonSettings  # noqa: E402

PAIRS = ROOT / "bench" / "data" / "semantic_paraphrases.jsonl"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def auc(pos: list[float], neg: list[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg)) if pos and neg else float("nan")


def cut_for(neg: list[float], delta: float) -> float:
    """The lowest cut whose false-hit share on ``neg`` is at most ``delta`` (a score must be
    strictly above it)."""
    ranked = sorted(neg, reverse=True)
    allowed = math.floor(delta * len(ranked))
    return ranked[allowed] if allowed < len(ranked) else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delta", type=float, default=0.01)
    ap.add_argument("--limit", type=int, default=0, help="first N triples of each half (0: all)")
    ap.add_argument("--models", default="deep,fast")
    ap.add_argument("--json", type=Path, default=None, help="write the scores here")
    args = ap.parse_args()

    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    articles = list(dict.fromkeys(r["article"] for r in rows))
    half = {a: ("tune" if i % 2 == 0 else "test") for i, a in enumerate(articles)}
    halves: dict[str, list[dict[str, str]]] = {"tune": [], "test": []}
    for r in rows:
        halves[half[r["article"]]].append(r)
    if args.limit:
        halves = {k: v[: args.limit] for k, v in halves.items()}
    print(
        f"pairs: {PAIRS.name}, tune {len(halves['tune'])} + test {len(halves['test'])} triples "
        f"({len(articles)} articles); delta {args.delta}; load {loadavg()}"
    )
    base = CommonSettings(llm_model=FAST_LLM_MODEL_ID, deep_llm_model=DEEP_LLM_MODEL_ID)
    dump: dict[str, object] = {}
    for tier in args.models.split(","):
        llm = build_llm(base.for_tier(tier))  # type: ignore[arg-type]
        judge = PairJudge(llm, prompt="p1")  # type: ignore[arg-type]  # its figures: p1
        judge.score("Who won?", "Who was the winner?")  # warm-up
        scores: dict[str, dict[str, list[float]]] = {}
        took: list[float] = []
        for name, triples in halves.items():
            pos: list[float] = []
            neg: list[float] = []
            for r in triples:
                for target, text in ((pos, r["paraphrase"]), (neg, r["distinct"])):
                    t0 = time.perf_counter()
                    target.append(judge.score(r["question"], text))
                    took.append(time.perf_counter() - t0)
            scores[name] = {"pos": pos, "neg": neg}
        llm.close()
        cut = cut_for(scores["tune"]["neg"], args.delta)
        test = scores["test"]
        hits = sum(s > cut for s in test["pos"])
        wrong = sum(s > cut for s in test["neg"])
        n_pos, n_neg = len(test["pos"]), len(test["neg"])
        r_lo, r_hi = wilson(hits, n_pos)
        w_lo, w_hi = wilson(wrong, n_neg)
        lat = sorted(took)
        print(f"{tier} judge ({judge.model_id}), load {loadavg()}")
        print(
            f"   AUC tune {auc(scores['tune']['pos'], scores['tune']['neg']):.3f}, "
            f"test {auc(test['pos'], test['neg']):.3f}; "
            f"distinct pairs scoring > 0.5 (test): {sum(s > 0.5 for s in test['neg'])}/{n_neg}"
        )
        print(f"   cut (tune half, false hits <= {args.delta:.0%}): score > {cut:.4f}")
        print(
            f"   test half: paraphrases found {hits}/{n_pos} = {hits / n_pos:.1%} "
            f"[{r_lo:.1%}, {r_hi:.1%}]; wrong hits {wrong}/{n_neg} = {wrong / n_neg:.1%} "
            f"[{w_lo:.1%}, {w_hi:.1%}]"
        )
        print(
            f"   latency per judgment {spread(took, ' s', '.3f')}, "
            f"p99 {lat[min(len(lat) - 1, int(0.99 * len(lat)))]:.3f} s"
        )
        dump[tier] = {"model": judge.model_id, "cut": cut, "scores": scores}
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(dump))
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
