"""One table for issue 24: Tandem's semantic cache beside the peers on a labelled pair set that
nothing was tuned on before it was split.

Pairs: ``bench/data/question_pairs.jsonl``, 193 SQuAD v1.1 dev questions (5 drawn per article,
none of the earlier ``semantic_paraphrases.jsonl`` ids), and ``question_pairs_b.jsonl``, 240
more (5 per article, written blind after the first table), each with a paraphrase in one of the
styles people write (``style``: synonym, reorder, other question word, casual, keywords, typo,
imperative) and a same-topic question asking for other information (``kind``: other attribute,
other name, antonym, swapped roles, other number, negation). The file holds only the SQuAD id;
the original question is read from the SQuAD file (``--squad``, never committed). A third probe
per item is derived: the question lower-cased, without its question mark, with two letters of
its longest word swapped (a typo; a paraphrase by construction).

Halves: the newest held-out set is the test half and every item of the sets before it tunes
(``--pairs``, ``--test-pairs``): ``question_pairs_c.jsonl`` (480 items, 10 per article, written
blind after the first two sets' test half had been judged and its wrong hits read) was the test
set once, then its wrong hits were read; ``question_pairs_d.jsonl`` (480 more, written blind
after that) is the test set now, and C tunes. Without it, the first two split by article before
anything is chosen: articles at even positions (SQuAD's order) tune, odd ones test. Each half
is a cache of its own in a real Redis: every original question of the half is cached; then
every probe is asked. A paraphrase counts as found
when the rule serves its own question; any hit on a distinct question is a wrong hit (so is a
paraphrase served another question's answer, counted apart).

Rules (all on the same MiniLM model, the top-1 cached question by cosine; the peers embed the
probe as written, Tandem with its typing slips put right first, ``core/matching/spelling.py``,
as the service does unless ``TANDEM_SEMANTIC_SPELLING=false``):
- the peers' defaults: plain cosine thresholds (GPTCache 0.6, LangChain 0.8, RedisVL 0.9, 0.95);
- a cosine threshold tuned on the tune half (any peer's rule re-tuned) at <= --delta wrong hits;
- Tandem's service rule: the exact key, then the semantic lookup with the evidence verifier
  (``RedisAnswerCache.get_semantic``, the service's settings);
- Tandem + the pair judge (``core/llm/judge.py``, the deep tier's model): a probe the service
  rule misses whose nearest cached question is at or above ``--floor`` is judged (a question
  pair prompt: both orders, the mean of the two scores; the answer-aware ``a1``: the cached
  question with its answer, SQuAD's first gold answer standing in for the cached one); the
  cut is chosen on the tune half at <= --delta, and a second cut by the error bound
  (``core/matching/acceptance.py``: the lowest cut whose one-sided 95% upper bound on wrong
  hits is <= the bound the tune half's N allows).

Rates carry Wilson 95% intervals and their N; judgments their latency (median, spread, p99) and
the load average.

Tandem embeds a question's embedding form (``embedding_text``: one "?" at the end), as the service
does; the peers the text as written. Judge scores are kept in ``bench/data/judge_scores.json``
(``--scores``), so a rerun judges only pairs it has not seen; ``--service-cuts`` judges the
test half only and serves at the service's own cuts.

    .venv/bin/python bench/pair_table.py [--delta 0.01] [--floor 0.5] [--limit 0] [--no-judge]
        [--service-cuts]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_expansion import labelled_entry, service_speller, service_verifier  # noqa: E402
from bench_judge import auc, cut_for, wilson  # noqa: E402
from bench_llm import loadavg, pct, spread  # noqa: E402
from semantic_cache import DEFAULT_SQUAD, PEERS  # noqa: E402

from core.cache.codec import CacheScope  # noqa: E402
from core.cache.redis import RedisAnswerCache  # noqa: E402
from core.cache.redis_sync import RedisAnswerCacheSync  # noqa: E402
from core.encoder import encoder_for  # noqa: E402
from core.llm.factory import build_llm  # noqa: E402
from core.llm.judge import ANSWER_PROMPTS, PairJudge  # noqa: E402
from core.matching.acceptance import learn_cut  # noqa: E402
from core.matching.verifier import HitVerifier  # noqa: E402
from core.redis_clients import async_redis, sync_redis  # noqa: E402
from online.settings import OnlineSettings  # noqa: E402
from shared_schemas.config import DEEP_LLM_MODEL_ID, FAST_LLM_MODEL_ID, CommonSettings  # noqa: E402
from shared_schemas.hashing import embedding_text, question_key_hash, sha256_hex  # noqa: E402

PAIRS = ROOT / "bench" / "data" / "question_pairs.jsonl"
#: 240 more items (5 per article), written blind after the first table (issue 24: the test half
#: was too small to show a 1% wrong-hit rate)
PAIRS_B = ROOT / "bench" / "data" / "question_pairs_b.jsonl"
#: 480 more (10 per article), written blind after the test half of the first two had been seen
#: (its wrong hits read); reported once as the test set, then read: it tunes now
PAIRS_C = ROOT / "bench" / "data" / "question_pairs_c.jsonl"
#: 480 more (10 per article), written blind after set C's wrong hits had been read: the test set,
#: every item of the first three tuning
PAIRS_D = ROOT / "bench" / "data" / "question_pairs_d.jsonl"
#: the sets that tune and the held-out one, oldest first: the newest present is the test set
PAIR_SETS = (PAIRS, PAIRS_B, PAIRS_C, PAIRS_D)
PROBES = ("paraphrase", "typo", "distinct")
#: the judge's scores of the pairs judged so far (p2, Qwen2.5-Coder-1.5B Q4_K_M), keyed by a hash
#: of the two texts and the prompt: a rerun judges only pairs it has not seen
SCORES = ROOT / "bench" / "data" / "judge_scores.json"


def typo_of(question: str) -> str:
    """Lower case, no question mark, two letters of the longest word swapped."""
    words = question.strip().rstrip("?").lower().split()
    i = max(range(len(words)), key=lambda j: len(words[j]))
    w = words[i]
    if len(w) >= 4:
        m = len(w) // 2
        words[i] = w[: m - 1] + w[m] + w[m - 1] + w[m + 1 :]
    return " ".join(words)


def load_halves(
    squad_path: Path,
    limit: int = 0,
    pairs: list[Path] | None = None,
    test_pairs: list[Path] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """The tune and test halves. Without ``test_pairs``, ``pairs`` split by article (even
    positions in SQuAD's order tune, odd ones test); with them, every item of ``pairs`` tunes
    and every item of ``test_pairs`` (a set written after the others were seen) is the test."""
    import gzip

    with gzip.open(squad_path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    question = {
        q["id"]: q["question"].strip() for a in data for p in a["paragraphs"] for q in p["qas"]
    }
    gold = {
        q["id"]: q["answers"][0]["text"].strip()
        for a in data
        for p in a["paragraphs"]
        for q in p["qas"]
    }
    order = [a["title"] for a in data]

    def read(paths: list[Path]) -> list[dict[str, str]]:
        return [
            json.loads(line)
            for path in paths
            for line in path.read_text().splitlines()
            if line.strip()
        ]

    rows = read(pairs or [PAIRS])
    held = read(test_pairs or [])
    ids = [r["id"] for r in rows + held]
    if len(set(ids)) != len(ids):
        raise SystemExit("the pair files share a SQuAD id")
    present = [a for a in order if any(r["article"] == a for r in rows)]
    half = {a: ("tune" if i % 2 == 0 or held else "test") for i, a in enumerate(present)}
    halves: dict[str, list[dict[str, str]]] = {"tune": [], "test": []}
    for r, name in [(r, half[r["article"]]) for r in rows] + [(r, "test") for r in held]:
        item = dict(r, question=question[r["id"]], answer=gold[r["id"]])
        item["typo"] = typo_of(item["question"])
        halves[name].append(item)
    if limit:
        halves = {k: v[:limit] for k, v in halves.items()}
    return halves


@dataclass
class Probe:
    item: str  # the id of the item the probe belongs to
    kind: str  # paraphrase | typo | distinct
    text: str
    style: str  # the paraphrase's style, "typo (derived)", or the distinct question's kind
    nearest: str = ""  # id of the nearest cached question
    cosine: float = 0.0
    service: str | None = None  # id the service rule served (None: a miss)
    hard: str | None = None  # the verifier's hard check that rejects the nearest (None: none)
    judge: list[float] = field(default_factory=list)  # (cached, probe), (probe, cached)
    asked: str = ""  # the probe with its typing slips put right: what the judge reads
    #: the nearest by the probe's own vector, as written: what the peers' rules read (Tandem
    #: reads the vector of the probe with its typing slips put right)
    raw_nearest: str = ""
    raw_cosine: float = 0.0

    @property
    def same(self) -> bool:
        return self.kind != "distinct"


async def service_hits(
    url: str,
    scope: CacheScope,
    probes: list[Probe],
    vecs: dict[str, Any],
    owner: dict[str, str],
    verifier: HitVerifier,
    spelled: dict[str, str],
) -> None:
    settings = OnlineSettings()
    cache = RedisAnswerCache(async_redis(url))
    try:
        for p in probes:
            hit = await cache.get_exact(scope, question_key_hash(p.text))
            if hit is None:
                asked = spelled.get(p.text, p.text)
                sem = await cache.get_semantic(
                    scope,
                    asked,
                    vecs[embedding_text(asked)],
                    threshold=settings.semantic_threshold,
                    verifier=verifier,
                )
                hit = sem.entry if sem is not None else None
            p.service = owner.get(hit.normalized_key) if hit is not None else None
    finally:
        await cache.redis.aclose()


def run_half(
    name: str,
    items: list[dict[str, str]],
    vecs: dict[str, Any],
    url: str,
    verifier: HitVerifier,
    spelled: dict[str, str],
) -> tuple[list[Probe], dict[str, str]]:
    """Cache the half's originals in Redis and ask every probe (its slips put right first, as
    the service does: ``spelled``)."""
    settings = OnlineSettings()
    scope = CacheScope(
        f"bench-pairs-{name}", settings.embedding_model, "bench", "p7", "bench-pairs"
    )
    writer = RedisAnswerCacheSync(sync_redis(url))
    writer.purge(scope)
    now = datetime.now(UTC)
    owner: dict[str, str] = {}
    for it in items:
        entry = labelled_entry(scope, it["question"], it["id"], now)
        owner[entry.normalized_key] = it["id"]
        writer.put(entry, vecs[embedding_text(it["question"])], ttl_s=3600)
    cached = np.stack([vecs[embedding_text(it["question"])] for it in items])
    as_written = np.stack([vecs[it["question"]] for it in items])  # what the peers embed
    ids = [it["id"] for it in items]
    style = {"paraphrase": "style", "typo": "", "distinct": "kind"}
    probes = [
        Probe(it["id"], k, it[k], it.get(style[k]) or "typo (derived)")
        for it in items
        for k in PROBES
    ]
    question = {it["id"]: it["question"] for it in items}
    for p in probes:
        asked = p.asked = spelled.get(p.text, p.text)
        sims = cached @ vecs[embedding_text(asked)]
        j = int(np.argmax(sims))
        p.nearest, p.cosine = ids[j], float(sims[j])
        raw = as_written @ vecs[p.text]
        j = int(np.argmax(raw))
        p.raw_nearest, p.raw_cosine = ids[j], float(raw[j])
        reason = verifier.verdict(asked, question[p.nearest], p.cosine).reason
        p.hard = None if reason in ("accepted", "score") else reason
    asyncio.run(service_hits(url, scope, probes, vecs, owner, verifier, spelled))
    writer.purge(scope)
    return probes, question


@dataclass(frozen=True)
class Outcome:
    found: int
    paraphrases: int
    wrong: int
    distinct: int
    misserved: int  # paraphrases served another question's answer

    def cells(self) -> str:
        f_lo, f_hi = wilson(self.found, self.paraphrases)
        w_lo, w_hi = wilson(self.wrong, self.distinct)
        return (
            f"{self.found}/{self.paraphrases} = {self.found / self.paraphrases:.1%} "
            f"[{f_lo:.1%}, {f_hi:.1%}] | {self.wrong}/{self.distinct} = "
            f"{self.wrong / self.distinct:.1%} [{w_lo:.1%}, {w_hi:.1%}] | {self.misserved}"
        )


def outcome(probes: list[Probe], served: Any) -> Outcome:
    """``served(probe)``: the id the rule serves for the probe, or None."""
    found = wrong = misserved = 0
    for p in probes:
        got = served(p)
        if got is None:
            continue
        if p.same:
            found += got == p.item
            misserved += got != p.item
        else:
            wrong += 1
    n_same = sum(p.same for p in probes)
    return Outcome(found, n_same, wrong, len(probes) - n_same, misserved)


def cosine_rule(t: float) -> Any:
    """A peer's rule: the nearest cached question by the probe's vector as written."""
    return lambda p: p.raw_nearest if p.raw_cosine >= t else None


#: hard checks of the verifier the judge may overrule (``--judge-over``), each in a band of its own
OVERRULED: set[str] = set()


def judgeable(p: Probe, floor: float) -> bool:
    """A miss the judge is asked about: its nearest cached question at or above the floor and
    failing no hard check of the verifier (a swapped role or an opposite word is evidence the
    judge does not overrule), but those in :data:`OVERRULED`."""
    return (
        p.service is None
        and bool(p.judge)
        and p.cosine >= floor
        and (p.hard is None or p.hard in OVERRULED)
    )


def judged_rule(cut: float, floor: float, bands: dict[str, float] | None = None) -> Any:
    """The service rule, then the judge: above ``cut`` for a probe failing no hard check, above
    ``bands[check]`` for one failing only an overruled check."""
    bands = bands or {}

    def served(p: Probe) -> str | None:
        if p.service is not None:
            return p.service
        band = cut if p.hard is None else bands.get(p.hard)
        if band is not None and judgeable(p, floor) and float(np.mean(p.judge)) > band:
            return p.nearest
        return None

    return served


def wrong_scores(
    probes: list[Probe], floor: float, band: str | None = None
) -> tuple[list[float], list[float]]:
    """Judge scores of the probes the service rule missed and the judge would see, failing
    ``band`` (None: no hard check): those that must not be served (distinct questions, or a
    nearest question that is not their own) and those that must."""
    bad: list[float] = []
    good: list[float] = []
    for p in probes:
        if judgeable(p, floor) and p.hard == band:
            s = float(np.mean(p.judge))
            (good if p.same and p.nearest == p.item else bad).append(s)
    return bad, good


def band_cuts(probes: list[Probe], floor: float, cut: float) -> dict[str, float]:
    """Each overruled check's cut, learned on ``probes`` (the tune half): over every score of a
    probe in its band that must not be served (no wrong hit of the band's own; with no such
    probe, no evidence: 1.0, nothing served), and never under ``cut``, the cut of pairs that
    fail no check (a failed check is evidence against: the judge must be at least as sure)."""
    return {
        check: max(cut, max(wrong_scores(probes, floor, check)[0], default=1.0))
        for check in OVERRULED
    }


def judge_all(
    runs: dict[str, tuple[list[Probe], dict[str, str]]],
    answers: dict[str, str],
    floor: float,
    saved: Path | None,
    took: list[float],
    *,
    every: bool = False,
    prompt: str = "p1",
    halves: tuple[str, ...] = ("tune", "test"),
) -> None:
    """Judge the probes the judge would see (:func:`judgeable`), against their nearest cached
    question, both orders; ``every``: each probe at or above ``floor`` whatever the service
    rule did (so any rule can be scored from them). An answer-aware prompt (``a1``) reads the
    cached question with its answer (``answers``, by item id: SQuAD's first gold answer, a
    stand-in for the answer the service would have cached) and the probe: one order."""
    known: dict[str, float] = {}
    if saved is not None and saved.exists():
        held = json.loads(saved.read_text())
        if held.get("judge_model") == DEEP_LLM_MODEL_ID:
            known = held["scores"]
        else:  # another model's scores: none of them is this judge's
            print(f"   {saved}: scores of {held.get('judge_model')!r}, not reused", flush=True)

    def save() -> None:
        if saved is not None:
            held = {"judge_model": DEEP_LLM_MODEL_ID, "scores": known}
            saved.write_text(json.dumps(held, sort_keys=True, indent=0) + "\n")

    judge: PairJudge | None = None
    for name, (probes, question) in runs.items():
        if name not in halves:
            continue
        todo = [
            p
            for p in probes
            if p.cosine >= floor
            and (every or (p.service is None and (p.hard is None or p.hard in OVERRULED)))
        ]
        for i, p in enumerate(todo, 1):
            asked = p.asked or p.text  # as the service queues it: slips put right
            cached = question[p.nearest]
            pairs = (
                [(cached, asked, answers[p.nearest])]
                if prompt in ANSWER_PROMPTS
                else [(cached, asked, None), (asked, cached, None)]
            )
            for a, b, answer in pairs:
                # keyed by a hash of the texts and the prompt: a score file holds no question
                key = sha256_hex(
                    json.dumps([a, b, prompt] if answer is None else [a, answer, b, prompt])
                )[:24]
                if key not in known:
                    if judge is None:
                        base = CommonSettings(
                            llm_model=FAST_LLM_MODEL_ID, deep_llm_model=DEEP_LLM_MODEL_ID
                        )
                        llm = build_llm(base.for_tier("deep"))
                        judge = PairJudge(llm, prompt=prompt)  # type: ignore[arg-type]
                        judge.score_pair("Who won?", "Who was the winner?", "Denver")  # warm-up
                    t0 = time.perf_counter()
                    known[key] = (
                        judge.score(a, b) if answer is None else judge.score_answer(a, answer, b)
                    )
                    took.append(time.perf_counter() - t0)
                p.judge.append(known[key])
            if i % 50 == 0:
                print(f"   judged {i}/{len(todo)} probes; load {loadavg()}", flush=True)
                save()
    if judge is not None:
        judge.llm.close()  # type: ignore[attr-defined]
    save()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    ap.add_argument("--delta", type=float, default=0.01)
    ap.add_argument(
        "--floor",
        type=float,
        default=OnlineSettings().judge_floor,
        help="cosine at which the judge is asked (default: the service's TANDEM_JUDGE_FLOOR)",
    )
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-judge", action="store_true")
    ap.add_argument(
        "--judge-every",
        action="store_true",
        help="judge every probe at or above the floor, not only the misses the judge would see",
    )
    ap.add_argument(
        "--judge-prompt",
        default=OnlineSettings().judge_prompt,
        choices=["p1", "p2", "p3", "a1"],
        help="default: the service's TANDEM_JUDGE_PROMPT",
    )
    ap.add_argument(
        "--judge-over",
        default=",".join(OnlineSettings().judge_overrule),
        help="hard checks of the verifier the judge may overrule, comma-separated ('answer "
        "kind'), each at a cut learned on the tune half (default: TANDEM_JUDGE_OVERRULE's)",
    )
    ap.add_argument(
        "--service-cuts",
        action="store_true",
        help="judge the test half only and serve at the service's own cuts (TANDEM_JUDGE_CUT, "
        "TANDEM_JUDGE_OVERRULE) instead of cuts learned on the tune half",
    )
    ap.add_argument(
        "--tune-only",
        action="store_true",
        help="judge the tune half only (choosing a prompt: the test half stays unseen)",
    )
    ap.add_argument(
        "--pairs",
        type=Path,
        nargs="+",
        default=[p for p in PAIR_SETS[:2] if p.exists()]
        + [p for p in PAIR_SETS[2:] if p.exists()][:-1],
        help="labelled pair files that tune (default: every set but the newest held-out one)",
    )
    ap.add_argument(
        "--test-pairs",
        type=Path,
        nargs="*",
        default=[p for p in PAIR_SETS[2:] if p.exists()][-1:],
        help="a held-out pair set reported as the test half, every item of --pairs tuning "
        "(default: the newest of question_pairs_c.jsonl and question_pairs_d.jsonl, each "
        "written blind after the sets before it were seen; none: --pairs split by article)",
    )
    ap.add_argument(
        "--bound-deltas",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.01, 0.05],
        help="error bounds to learn a cut under (judged tune-half outcomes, 95%% confidence)",
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    ap.add_argument(
        "--scores",
        type=Path,
        default=SCORES,
        help="judge scores by pair (keyed by a hash of the texts and the prompt): read before "
        "judging, written after, so a rerun judges none twice (default: the committed "
        "bench/data/judge_scores.json)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write every probe here")
    args = ap.parse_args()

    OVERRULED.update(x.strip() for x in args.judge_over.split(",") if x.strip())
    halves = load_halves(args.squad, args.limit, args.pairs, args.test_pairs)
    print(
        f"pairs: {', '.join(p.name for p in args.pairs)}"
        + (f"; test: {', '.join(p.name for p in args.test_pairs)}" if args.test_pairs else "")
        + ": "
        f"tune {len(halves['tune'])} + test {len(halves['test'])} items, "
        f"{len(PROBES)} probes each; delta {args.delta}; judge floor {args.floor}; load {loadavg()}"
    )
    settings = OnlineSettings()
    encoder = encoder_for(settings)
    probes = {it[k] for items in halves.values() for it in items for k in PROBES}
    speller = service_speller() if settings.semantic_spelling else None
    spelled = {t: speller.correct(t) for t in probes} if speller is not None else {}
    texts = sorted(
        {it["question"] for items in halves.values() for it in items}
        | probes
        | set(spelled.values())
    )
    # one text at a time, as the service embeds a question: the int8 encoder quantises each
    # batch's activations together, so a vector embedded in a batch depends a little on its
    # batch-mates (and a table on which texts happened to share its batches)
    # Tandem embeds a question's embedding form (``embedding_text``: one "?" at the end), the peers
    # the text as written
    texts = sorted(set(texts) | {embedding_text(t) for t in texts})
    vecs = dict(zip(texts, encoder.encode(texts, batch_size=1), strict=True))
    verifier = service_verifier(settings)
    if spelled:
        changed = sum(a != b for a, b in spelled.items())
        print(f"slips put right (TANDEM_SEMANTIC_SPELLING): {changed} of {len(spelled)} probes")
    runs = {
        name: run_half(name, items, vecs, args.redis_url, verifier, spelled)
        for name, items in halves.items()
    }

    took: list[float] = []
    if not args.no_judge:
        judge_all(
            runs,
            {it["id"]: it["answer"] for items in halves.values() for it in items},
            args.floor,
            args.scores,
            took,
            every=args.judge_every,
            prompt=args.judge_prompt,
            halves=("tune",)
            if args.tune_only
            else ("test",)
            if args.service_cuts
            else ("tune", "test"),
        )

    tune, test = runs["tune"][0], runs["test"][0]
    rules: list[tuple[str, Any]] = [(f"{name}", cosine_rule(t)) for name, t in PEERS]
    # any peer's rule re-tuned: the lowest cosine with <= delta wrong hits on the tune half
    neg = [p.raw_cosine for p in tune if not p.same] + [
        p.raw_cosine for p in tune if p.same and p.raw_nearest != p.item
    ]
    t_cos = cut_for(neg, args.delta)
    rules.append(
        (
            f"cosine tuned on the tune half (> {t_cos:.3f})",
            lambda p: p.raw_nearest if p.raw_cosine > t_cos else None,
        )
    )
    rules.append(("Tandem service rule (signature + evidence verifier)", lambda p: p.service))
    if args.service_cuts and not args.no_judge:
        cut = settings.judge_cut
        bands = {c: b for c, b in settings.judge_overrule.items() if c in OVERRULED}
        over = "".join(f", {c} > {b:.4f}" for c, b in sorted(bands.items()))
        rules.append(
            (
                f"Tandem + judge, the service's cuts (> {cut:.4f}{over})",
                judged_rule(cut, args.floor, bands),
            )
        )
        bad, good = wrong_scores(test, args.floor)
        print(f"judge AUC (test probes the service missed, over the floor): {auc(good, bad):.3f}")
    elif not args.no_judge:
        bad, good = wrong_scores(tune, args.floor)
        n_distinct = sum(not p.same for p in tune)
        # false hits allowed on the tune half: delta of all its distinct probes, less the
        # service rule's own
        allowed_wrong = max(
            0, int(args.delta * n_distinct) - outcome(tune, lambda p: p.service).wrong
        )
        cut = sorted(bad, reverse=True)[allowed_wrong] if allowed_wrong < len(bad) else 0.0
        bands = band_cuts(tune, args.floor, cut)
        for check, band in sorted(bands.items()):
            b_bad, b_good = wrong_scores(tune, args.floor, check)
            print(
                f"overruled check {check!r}: cut > {band:.4f} (tune: {len(b_good)} paraphrases, "
                f"{sum(s > band for s in b_good)} over it; {len(b_bad)} must-nots)"
            )
        over = "".join(f", {c} > {b:.4f}" for c, b in sorted(bands.items()))
        rules.append(
            (f"Tandem + judge, cut tuned (> {cut:.4f}{over})", judged_rule(cut, args.floor, bands))
        )
        outcomes = [(s, False) for s in bad] + [(s, True) for s in good]
        for bound_delta in args.bound_deltas:
            bound = learn_cut(outcomes, delta=bound_delta)
            label = (
                f"Tandem + judge, error bound {bound_delta:.0%} (> {bound.cut:.4f})"
                if bound.cut is not None
                else f"Tandem + judge, error bound {bound_delta:.0%} (no cut certified)"
            )
            cut_b = bound.cut if bound.cut is not None else 2.0
            rules.append((label, judged_rule(cut_b, args.floor, bands)))
            print(f"error bound {bound_delta:.0%}: {bound.explain()}")
        print(
            f"judge AUC (probes the service missed, at or above the floor): tune "
            f"{auc(good, bad):.3f} (n={len(good)}+{len(bad)}), test "
            f"{auc(*reversed(wrong_scores(test, args.floor))):.3f}"
        )

    if args.json:
        args.json.write_text(
            json.dumps({k: [p.__dict__ for p in v[0]] for k, v in runs.items()}, default=float)
        )
    print()
    if args.tune_only:  # the test half was not judged: only the tune half is shown
        print("| rule | tune: paraphrases found | tune: wrong hits (distinct) | misserved |")
        print("|---|---|---|---|")
        for name, served in rules:
            print(f"| {name} | {outcome(tune, served).cells()} |")
        return
    print(
        "| rule | test: paraphrases found | test: wrong hits (distinct) "
        "| paraphrase served another's answer | tune: found / wrong |"
    )
    print("|---|---|---|---|---|")
    for name, served in rules:
        t = outcome(tune, served)
        tune_cell = (
            "tune not judged"
            if args.service_cuts and name.startswith("Tandem + judge")
            else f"{t.found}/{t.paraphrases} / {t.wrong}/{t.distinct}"
        )
        print(f"| {name} | {outcome(test, served).cells()} | {tune_cell} |")
    print()
    name, best = next(
        (
            r
            for r in rules
            if r[0].startswith(("Tandem + judge, cut tuned", "Tandem + judge, the service"))
        ),
        next(r for r in rules if r[0].startswith("Tandem service rule")),
    )
    print(f"by style and kind, test half, {name}:")
    for same in (True, False):
        for style in sorted({p.style for p in test if p.same == same}):
            o = outcome([p for p in test if p.style == style], best)
            print(
                f"   paraphrase {style}: {o.found}/{o.paraphrases} found"
                if same
                else f"   distinct {style}: {o.wrong}/{o.distinct} wrongly served"
            )
    if took:
        print(
            f"judgments: {len(took)}, latency {spread(took, ' s', '.3f')}, "
            f"p99 {pct(took, 99):.3f} s"
        )
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
