"""What putting typing slips right costs a question on the semantic path, beside what embedding
it costs (the step the speller runs in, ``online/answering/live.py``), in the same process.

Questions: every question and probe of ``bench/data/question_pairs*.jsonl`` (SQuAD dev ids; the
texts read from ``--squad``), a third of them typed with a slip. The speller reads SQuAD dev's
paragraphs (the index's texts) and the model's whole words, as the service does. Each round
times, per question, the speller with an empty memo (every word looked up) and then the
encoder on the same question; the ratio is speller / encoder per round. Reports the median of
all rounds with the spread, and the load average.

    .venv/bin/python bench/bench_spelling.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_expansion import service_speller  # noqa: E402
from bench_llm import loadavg, pct, spread  # noqa: E402
from pair_table import PAIRS, PAIRS_B, load_halves  # noqa: E402
from semantic_cache import DEFAULT_SQUAD  # noqa: E402

from core.encoder import encoder_for  # noqa: E402
from core.matching.spelling import Speller  # noqa: E402
from online.settings import OnlineSettings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    halves = load_halves(args.squad, 0, [PAIRS, PAIRS_B])
    questions = [
        it[k]
        for items in halves.values()
        for it in items
        for k in ("question", "paraphrase", "typo", "distinct")
    ]
    t0 = time.perf_counter()
    built = service_speller()
    print(
        f"{len(questions)} questions; speller built in {time.perf_counter() - t0:.2f} s "
        f"({len(built.vocabulary)} document words, {len(built.known)} model words); "
        f"load {loadavg()}"
    )
    encoder = encoder_for(OnlineSettings())
    encoder.encode(questions[:8])  # warm-up
    ratios: list[float] = []
    spell_all: list[float] = []
    embed_all: list[float] = []
    for r in range(args.rounds):
        speller = Speller(built.vocabulary, built.known)  # an empty memo each round
        spell: list[float] = []
        embed: list[float] = []
        for q in questions:
            t = time.perf_counter()
            fixed = speller.correct(q)
            spell.append(time.perf_counter() - t)
            t = time.perf_counter()
            encoder.encode([fixed])
            embed.append(time.perf_counter() - t)
        ratio = sum(spell) / sum(embed)
        ratios.append(ratio)
        spell_all += spell
        embed_all += embed
        print(
            f"round {r + 1}: speller {statistics.median(spell) * 1e6:.1f} us median, "
            f"p99 {pct(spell, 99) * 1e6:.1f} us; embedding {statistics.median(embed) * 1e3:.2f} "
            f"ms median; speller / embedding {ratio:.4f}; load {loadavg()}"
        )
    print(
        f"speller / embedding, median of {len(ratios)} rounds: {statistics.median(ratios):.4f} "
        f"(spread {min(ratios):.4f}-{max(ratios):.4f}); speller per question "
        f"{spread([s * 1e6 for s in spell_all], ' us', '.1f')}, "
        f"p99 {pct(spell_all, 99) * 1e6:.1f} us; "
        f"embedding {spread([e * 1e3 for e in embed_all], ' ms', '.2f')}; load {loadavg()}"
    )


if __name__ == "__main__":
    main()
