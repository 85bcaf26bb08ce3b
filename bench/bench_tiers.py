"""The model tiers side by side in one run (issue 23 items 2 and 7).

1. live answer (embed + search + generate, ``Answerer.answer_once`` on a SQuAD dev slice) with
   the fast tier's model against the baseline in the same process (SmolLM2-135M, the model
   every tier ran before), alternating question by question: median with spread, ratio;
2. the fast tier's live answer with a deep warm running beside it (a thread answering with the
   deep engine non-stop) against without, alternating passes: median with spread, ratio;
3. the deep tier's decode speed (64 tokens forced, the engine's own timings) against the
   memory-bandwidth ceiling (GGUF bytes read per token vs this machine's copy bandwidth);
4. the deep tier's warm throughput: aggregate tokens/s with its slots in use vs one at a time;
5. each engine's peak resident memory (VmHWM of the llama.cpp server process, after its slots
   have answered at once), the figure the deployments' memory requests come from.

Every figure is the median of all its runs with the spread (min-max, n) and the load average.

    .venv/bin/python bench/bench_tiers.py [--questions 12] [--rounds 3] [--paragraphs 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_llm import (  # noqa: E402
    build_index,
    concurrency,
    copy_bandwidth_gbs,
    engine_decode,
    loadavg,
    spread,
    squad_slice,
)

from core.answering import Answerer  # noqa: E402
from core.bootstrap import answer_config  # noqa: E402
from core.encoder import get_encoder  # noqa: E402
from core.llm.factory import build_llm  # noqa: E402
from shared_schemas.config import (  # noqa: E402
    DEEP_LLM_MODEL_ID,
    FAST_LLM_MODEL_ID,
    LLM_MODEL_ID,
    CommonSettings,
)


def _read_in_process(args: tuple[int, int]) -> list[float]:
    return read_bandwidth_gbs(args[0])


def parallel_read_bandwidth_gbs(cores: int, rounds: int) -> list[float]:
    """GB/s of ``cores`` processes each summing its own 512 MiB array at the same time: the
    summed rate of each round (the ceiling of a decode on that many threads)."""
    from multiprocessing import get_context

    with get_context("spawn").Pool(cores) as pool:
        per_process = pool.map(_read_in_process, [(rounds, i) for i in range(cores)])
    return [sum(rates) for rates in zip(*per_process, strict=True)]


def read_bandwidth_gbs(rounds: int) -> list[float]:
    """GB/s of one core reading a 512 MiB array: one byte of every 64-byte cache line is
    touched, so every line comes from memory while the core does almost no arithmetic (a sum
    over the array is bound by its adds, ~18 GB/s here, and understated the ceiling: decode beat
    it). Median of its rounds each."""
    src = np.ones(64 * 1024 * 1024, dtype=np.float64)
    lines = src.view(np.uint8)[::64]
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        lines.max()
        out.append(src.nbytes / (time.perf_counter() - t0) / 1e9)
    return out


def answerer_for(settings: CommonSettings, encoder: Any, tier: str = "fast") -> Answerer:
    llm = build_llm(settings.for_tier(tier))  # type: ignore[arg-type]
    return Answerer(encoder=encoder, llm=llm, config=answer_config(settings, tier))  # type: ignore[arg-type]


def answer_s(answerer: Answerer, index: Any, question: str) -> float:
    t0 = time.perf_counter()
    answerer.answer_once(question, index)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paragraphs", type=int, default=300)
    ap.add_argument("--fast-prompt", default=None, help="default: TANDEM_PROMPT_VERSION")
    ap.add_argument("--steps", default="1,2,3,4,5", help="which of the five to run")
    ap.add_argument(
        "--deep-threads",
        type=lambda v: [int(x) for x in v.split(",") if x],
        default=[2],
        help="deep decode also measured with these thread counts (comma-separated)",
    )
    args = ap.parse_args()

    print(f"load before: {loadavg()}")
    paras, questions = squad_slice(args.paragraphs)
    index = build_index(paras)
    questions = questions[: args.questions]
    encoder = get_encoder(device="cpu")
    base = CommonSettings(llm_model=FAST_LLM_MODEL_ID, deep_llm_model=DEEP_LLM_MODEL_ID)
    if args.fast_prompt:
        base = base.model_copy(update={"prompt_version": args.fast_prompt})
    baseline_settings = base.model_copy(update={"llm_model": LLM_MODEL_ID, "prompt_version": "p4"})
    fast = answerer_for(base, encoder)
    baseline = answerer_for(baseline_settings, encoder)
    deep = answerer_for(base, encoder, "deep")
    print(
        f"fast {fast.llm.model_id} ({fast.config.prompt_version}), "
        f"deep {deep.llm.model_id} ({deep.config.generating_prompt}), "
        f"baseline {baseline.llm.model_id} (p4); {len(questions)} questions x {args.rounds}"
    )
    for a in (fast, baseline, deep):  # warm-up: first requests pay page faults
        a.answer_once(questions[0], index)

    steps = set(args.steps.split(","))
    if "1" in steps:
        # 1. live answer: fast vs baseline, alternating question by question
        t_fast: list[float] = []
        t_base: list[float] = []
        print(f"1. live answer, load {loadavg()}")
        for _ in range(args.rounds):
            for q in questions:
                t_fast.append(answer_s(fast, index, q))
                t_base.append(answer_s(baseline, index, q))
        m_fast, m_base = statistics.median(t_fast), statistics.median(t_base)
        print(f"   fast     {spread(t_fast, ' s')}")
        print(f"   baseline {spread(t_base, ' s')}")
        print(f"   ratio fast/baseline (medians): {m_fast / m_base:.2f}x; load {loadavg()}")

    if "2" in steps:
        # 2. live answer with a deep warm beside it vs without, alternating passes
        quiet: list[float] = []
        beside: list[float] = []
        deep_done = [0]
        print(f"2. live answer beside a deep warm, load {loadavg()}")
        for _ in range(args.rounds):
            quiet += [answer_s(fast, index, q) for q in questions]
            stop = threading.Event()

            def warm(stop: threading.Event = stop) -> None:
                i = 0
                while not stop.is_set():
                    deep.answer_once(questions[-1 - i % len(questions)], index)
                    deep_done[0] += 1
                    i += 1

            worker = threading.Thread(target=warm, daemon=True)
            worker.start()
            time.sleep(1.0)  # the warm is decoding before the first live question is asked
            beside += [answer_s(fast, index, q) for q in questions]
            stop.set()
            worker.join()
        print(f"   without warm {spread(quiet, ' s')}")
        print(f"   with warm    {spread(beside, ' s')} ({deep_done[0]} deep answers meanwhile)")
        print(
            f"   ratio with/without (medians): "
            f"{statistics.median(beside) / statistics.median(quiet):.2f}x; load {loadavg()}"
        )

    if "3" in steps:
        # 3. deep decode speed against the bandwidth ceiling
        print(f"3. deep decode, load {loadavg()}")
        gbs = copy_bandwidth_gbs(args.rounds + 2)
        reads = read_bandwidth_gbs(args.rounds + 2)
        gguf = Path(deep.llm.engine.options.gguf_path)  # type: ignore[attr-defined]
        per_token = gguf.stat().st_size
        # decode reads the weights once a token: the ceiling is the read bandwidth (a copy's
        # figure counts its writes too and understates it)
        ceiling = statistics.median(reads) * 1e9 / per_token
        print(f"   copy bandwidth {spread(gbs, ' GB/s')} (read + write)")
        print(f"   read bandwidth {spread(reads, ' GB/s')}; {per_token / 1e6:.0f} MB a token")
        print(f"   ceiling {ceiling:.1f} tok/s")
        ceilings = {1: ceiling}
        for threads in sorted({t for t in args.deep_threads if t > 1}):
            together = parallel_read_bandwidth_gbs(threads, args.rounds + 2)
            ceilings[threads] = statistics.median(together) * 1e9 / per_token
            print(
                f"   read bandwidth, {threads} cores at once {spread(together, ' GB/s')}: "
                f"ceiling {ceilings[threads]:.1f} tok/s"
            )
        for threads in (0, *args.deep_threads):
            if threads == 0:
                llm = deep.llm
                used = deep.llm.engine.options.threads or 1  # type: ignore[attr-defined]
                label = f"default threads ({used})"
            else:
                llm = build_llm(
                    base.for_tier("deep").model_copy(update={"llm_engine_threads": threads})
                )
                label, used = f"{threads} decode threads", threads
            decode = [engine_decode(llm)[0] for _ in range(args.rounds)]
            own = ceilings.get(used, ceiling)
            print(
                f"   decode, {label}: {spread(decode, ' tok/s', '.1f')} = "
                f"{100 * statistics.median(decode) / ceiling:.0f}% of one core's ceiling, "
                f"{100 * statistics.median(decode) / own:.0f}% of {used} cores' (medians)"
            )
            if threads:
                llm.close()

    if "4" in steps:
        # 4. deep warm throughput: slots in use vs one at a time
        slots = deep.llm.engine.options.parallel  # type: ignore[attr-defined]
        print(f"4. deep aggregate throughput, {slots} slots, load {loadavg()}")
        seq, par, _ = concurrency(deep.llm, slots, args.rounds)
        print(f"   one at a time {spread(seq, ' tok/s', '.1f')}")
        print(f"   {slots} at once    {spread(par, ' tok/s', '.1f')}")
        print(f"   ratio (medians): {statistics.median(par) / statistics.median(seq):.2f}x")
    if "5" in steps:
        # 5. peak resident memory of each engine, its slots all busy once (steps 1-4 or here)
        print(f"5. engine peak RSS (VmHWM), load {loadavg()}")
        for label, a in (("fast", fast), ("deep", deep), ("baseline", baseline)):
            engine = a.llm.engine  # type: ignore[attr-defined]
            concurrency(a.llm, engine.options.parallel, 1)
            print(
                f"   {label:8} {a.llm.model_id}: {engine_peak_rss_mb(engine.pid):,.0f} MB "
                f"({engine.options.parallel} slots, ctx {engine.options.ctx_size})"
            )
    print(f"load after: {loadavg()}")
    for a in (fast, baseline, deep):
        a.llm.close()


def engine_peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


if __name__ == "__main__":
    main()
