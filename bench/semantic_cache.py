"""Semantic-cache precision on SQuAD v1.1 dev, beside the peers' defaults, and its lookup cost.

SQuAD dev's 48 articles are split in two (seeded): the *tune* half chose the verifier's weights
(``--tune`` prints that search), the *held-out* half is what the tables report. In each half,
half the questions are cached (question + its first gold answer, question vector; no LLM) and
the other half asked. A semantic hit is *false* when the cached question's gold answers and the
asked question's share no normalised answer string (SQuAD's official normalisation); asked
questions whose text is cached exactly are left out (exact hits, not the semantic side's doing).

Printed, all measured in this run:

1. the peer table: a plain top-1 cosine threshold at each peer's default (GPTCache 0.1.44's
   semantic default 0.6, LangChain ``RedisSemanticCache`` 0.8, RedisVL 0.28 ``SemanticCache`` 0.9,
   and 0.95), Tandem's previous rule (0.95 + signature agreement) and Tandem's verifier
   (``core.matching.verifier``, the service's settings), hits beside precision and false hits;
2. the production path on the held-out half: ``RedisAnswerCacheSync.put`` to warm a real Redis, then
   the service's ``get_exact`` and ``get_semantic`` (verifier on) for every asked question;
3. the hand-written paraphrase set (``bench/data/semantic_paraphrases.jsonl``: SQuAD dev
   questions, each with a paraphrase that should hit and a distinct question on the same topic
   that must not), per half: cache = the set's questions of that half; paraphrase hits (the
   original found) and distinct hits (anything found); then again with every SQuAD question of
   that half's articles cached as distractors (a paraphrase hit then counts when the question
   found shares a gold answer with the original);
4. lookup cost at 100,000 cached questions (the 10,570 SQuAD question vectors and perturbed
   copies of them): ``SemanticMirror.nearest`` plus the verifier on its candidates, per asked
   question, excluding the query embedding; against the full scan of the same rows (ratio and
   top-1 agreement), median of ``--runs`` runs with min-max, and the load average.

    .venv/bin/python bench/semantic_cache.py [--squad PATH] [--redis-url URL] [--runs 3] [--tune]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import re
import string
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache.codec import CacheScope  # noqa: E402
from core.cache.redis import RedisAnswerCache  # noqa: E402
from core.cache.redis_sync import RedisAnswerCacheSync  # noqa: E402
from core.cache.semantic import SemanticMirror  # noqa: E402
from core.encoder import encoder_for  # noqa: E402
from core.index.lexical import Tokenizer, default_lexical_config, lexical_text  # noqa: E402
from core.matching.signature import question_signature  # noqa: E402
from core.matching.terms import TermStats  # noqa: E402
from core.matching.verifier import HitVerifier, VerifierParams  # noqa: E402
from core.redis_clients import async_redis, sync_redis  # noqa: E402
from online.settings import OnlineSettings  # noqa: E402
from shared_schemas.cache import CacheEntry  # noqa: E402
from shared_schemas.hashing import question_key_hash  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json.gz"
PARAPHRASES = ROOT / "bench" / "data" / "semantic_paraphrases.jsonl"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
SPLIT_SEED = 14  # articles -> tune / held-out
CACHE_SEED = 0  # questions of a half -> cached / asked
CANDIDATES = 3  # nearest questions the verifier looks at
PEERS = (
    ("GPTCache semantic default (cosine >= 0.6)", 0.6),
    ("LangChain RedisSemanticCache default (>= 0.8)", 0.8),
    ("RedisVL SemanticCache default (>= 0.9)", 0.9),
    ("plain threshold >= 0.95", 0.95),
)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's official answer normalisation."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


@dataclass(frozen=True)
class Question:
    qid: str
    article: str
    text: str
    golds: frozenset[str]
    first: str


@dataclass
class Squad:
    questions: list[Question]
    paragraphs: list[str]  # title + text, as the lexical side indexes them
    articles: list[str]


def load(path: Path) -> Squad:
    raw = path.read_bytes()
    data = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    out = Squad([], [], [])
    for article in data["data"]:
        title = article["title"]
        out.articles.append(title)
        for para in article["paragraphs"]:
            out.paragraphs.append(lexical_text(title.replace("_", " "), para["context"]))
            for qa in para["qas"]:
                golds = frozenset(normalize_answer(a["text"]) for a in qa["answers"])
                out.questions.append(
                    Question(
                        qa["id"], title, qa["question"].strip(), golds, qa["answers"][0]["text"]
                    )
                )
    return out


def split_articles(articles: Sequence[str]) -> dict[str, set[str]]:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(articles))
    half = len(articles) // 2
    return {
        "tune": {articles[i] for i in order[:half]},
        "held-out": {articles[i] for i in order[half:]},
    }


def cache_split(rows: list[int]) -> tuple[list[int], list[int]]:
    order = np.random.default_rng(CACHE_SEED).permutation(len(rows))
    cached = sorted(rows[k] for k in order[: len(rows) // 2])
    asked = sorted(rows[k] for k in order[len(rows) // 2 :])
    return cached, asked


def encode_cached(texts: list[str], settings: OnlineSettings) -> np.ndarray:
    """Question vectors, cached under var/bench/ (keyed by the texts and the model)."""
    key = hashlib.sha256("\x00".join([settings.embedding_model, *texts]).encode()).hexdigest()
    path = ROOT / "var" / "bench" / f"squad-questions-{key[:16]}.npy"
    if path.exists():
        return np.load(path)
    enc = encoder_for(settings)  # the backend the settings name, as the service encodes
    t0 = time.perf_counter()
    vecs = enc.encode(texts, batch_size=128)
    print(f"encoded {len(texts)} questions in {time.perf_counter() - t0:.1f}s")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


# A decider sees the asked text and the candidates (cached text, cosine), best first, and returns
# the index of the candidate it serves, or None.
Decider = Callable[[str, list[tuple[str, float]]], int | None]


def plain(threshold: float) -> Decider:
    def decide(asked: str, cands: list[tuple[str, float]]) -> int | None:
        return 0 if cands and cands[0][1] >= threshold else None

    return decide


def signature_rule(threshold: float) -> Decider:
    def decide(asked: str, cands: list[tuple[str, float]]) -> int | None:
        want = question_signature(asked)
        for k, (text, sim) in enumerate(cands):
            if sim >= threshold and question_signature(text).agrees_with(want):
                return k
        return None

    return decide


def verifier_rule(verifier: HitVerifier, floor: float) -> Decider:
    def decide(asked: str, cands: list[tuple[str, float]]) -> int | None:
        for k, (text, sim) in enumerate(cands):
            if sim >= floor and verifier.accepts(asked, text, sim):
                return k
        return None

    return decide


@dataclass
class Pool:
    """Cached questions of one experiment: their vectors and texts, searched exactly."""

    texts: list[str]
    ids: list[int]
    matrix: np.ndarray

    def candidates(self, vector: np.ndarray, k: int = CANDIDATES) -> list[tuple[int, float]]:
        sims = self.matrix @ vector
        top = np.argpartition(-sims, k)[:k] if sims.size > k else np.arange(sims.size)
        top = top[np.argsort(-sims[top])]
        return [(self.ids[t], float(sims[t])) for t in top]


def pool_of(rows: list[int], squad: Squad, vecs: np.ndarray) -> Pool:
    seen: dict[str, int] = {}
    for i in rows:
        seen.setdefault(question_key_hash(squad.questions[i].text), i)
    ids = list(seen.values())
    return Pool([squad.questions[i].text for i in ids], ids, vecs[ids])


@dataclass
class HalfRun:
    """One half's cached pool and its asked questions' candidates (computed once)."""

    asked: int
    cands: list[tuple[int, list[tuple[int, float]]]]  # (asked row, [(cached row, cosine)])


def half_run(rows: list[int], squad: Squad, vecs: np.ndarray) -> HalfRun:
    cached, asked = cache_split(rows)
    pool = pool_of(cached, squad, vecs)
    exact = {question_key_hash(t) for t in pool.texts}
    out = []
    for j in asked:
        if question_key_hash(squad.questions[j].text) in exact:
            continue
        out.append((j, pool.candidates(vecs[j])))
    return HalfRun(len(asked), out)


def score(run: HalfRun, squad: Squad, decide: Decider) -> tuple[int, int]:
    """(semantic hits, false hits)."""
    hits = false = 0
    qs = squad.questions
    for j, cands in run.cands:
        k = decide(qs[j].text, [(qs[i].text, s) for i, s in cands])
        if k is not None:
            hits += 1
            false += not (qs[cands[k][0]].golds & qs[j].golds)
    return hits, false


def row(name: str, hits: int, false: int, asked: int) -> str:
    prec = f"{(hits - false) / hits:.2f}" if hits else "n/a"
    return (
        f"| {name} | {hits} ({100 * hits / asked:.2f}%) | {prec} | {false} "
        f"({100 * false / asked:.2f}%) |"
    )


@dataclass
class ParaphraseSet:
    items: list[dict[str, str]]
    para_vecs: np.ndarray
    distinct_vecs: np.ndarray


def paraphrase_results(
    ps: ParaphraseSet,
    squad: Squad,
    vecs: np.ndarray,
    articles: set[str],
    decide: Decider,
    *,
    distractors: bool,
) -> tuple[int, int, int]:
    """(items, paraphrases that hit, distinct questions that hit) for one half."""
    by_id = {q.qid: i for i, q in enumerate(squad.questions)}
    items = [(k, it) for k, it in enumerate(ps.items) if it["article"] in articles]
    if distractors:
        rows = [i for i, q in enumerate(squad.questions) if q.article in articles]
    else:
        rows = [by_id[it["id"]] for _, it in items]
    pool = pool_of(rows, squad, vecs)
    qs = squad.questions
    para_hits = distinct_hits = 0
    for k, it in items:
        original = by_id[it["id"]]
        cands = pool.candidates(ps.para_vecs[k])
        got = decide(it["paraphrase"], [(qs[i].text, s) for i, s in cands])
        if got is not None:
            found = cands[got][0]
            good = found == original or (distractors and bool(qs[found].golds & qs[original].golds))
            para_hits += good
        cands = pool.candidates(ps.distinct_vecs[k])
        distinct_hits += decide(it["distinct"], [(qs[i].text, s) for i, s in cands]) is not None
    return len(items), para_hits, distinct_hits


async def production(
    url: str,
    settings: OnlineSettings,
    squad: Squad,
    rows: list[int],
    vecs: np.ndarray,
    verifier: HitVerifier,
) -> dict[str, Any]:
    cached, asked = cache_split(rows)
    scope = CacheScope(
        index_version="bench-semantic",
        embedding_model=settings.embedding_model,
        llm_model="gold-answers",
        prompt_version=settings.prompt_version,
        namespace="bench-semantic",
    )
    writer = RedisAnswerCacheSync(sync_redis(url))
    writer.purge(scope)
    now = datetime.now(UTC)
    golds: dict[str, frozenset[str]] = {}
    for i in cached:
        q = squad.questions[i]
        h = question_key_hash(q.text)
        if h in golds:
            continue
        golds[h] = q.golds
        entry = CacheEntry(
            question=q.text,
            normalized_key=h,
            answer=q.first,
            index_version=scope.index_version,
            embedding_model=scope.embedding_model,
            llm_model=scope.llm_model,
            prompt_version=scope.prompt_version,
            created_at=now,
            namespace=scope.namespace,
        )
        writer.put(entry, vecs[i], ttl_s=3600)
    cache = RedisAnswerCache(async_redis(url))
    exact = sem = false_sem = 0
    times = []
    for j in asked:
        q = squad.questions[j]
        t0 = time.perf_counter()
        e = await cache.get_exact(scope, question_key_hash(q.text))
        if e is not None:
            exact += 1
            continue
        hit = await cache.get_semantic(
            scope, q.text, vecs[j], threshold=settings.semantic_threshold, verifier=verifier
        )
        times.append(time.perf_counter() - t0)
        if hit is not None:
            sem += 1
            false_sem += not (golds[hit.entry.normalized_key] & q.golds)
    writer.purge(scope)
    await cache.redis.aclose()
    return {
        "cached": len(golds),
        "asked": len(asked),
        "exact": exact,
        "semantic": sem,
        "false_semantic": false_sem,
        "lookup_ms": 1000 * float(np.median(times)),
    }


def padded_rows(vecs: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """``total`` unit rows: the question vectors, then perturbed copies (cosine ~0.55-0.8 to their
    source, below the candidate floor); and each row's source question."""
    rng = np.random.default_rng(1)
    extra = total - len(vecs)
    src = rng.integers(0, len(vecs), extra)
    noise = rng.standard_normal((extra, vecs.shape[1])).astype(np.float32)
    noise -= (noise * vecs[src]).sum(axis=1, keepdims=True) * vecs[src]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    t = rng.uniform(0.75, 1.5, (extra, 1)).astype(np.float32)
    pert = vecs[src] + t * noise
    pert /= np.linalg.norm(pert, axis=1, keepdims=True)
    return np.vstack([vecs, pert]).astype(np.float32), np.concatenate([np.arange(len(vecs)), src])


def lookup_cost(
    squad: Squad,
    vecs: np.ndarray,
    asked: list[int],
    verifier: HitVerifier,
    floor: float,
    *,
    total: int,
    runs: int,
) -> dict[str, Any]:
    rows, source = padded_rows(vecs, total)
    mirrors = {}
    for name, coarse_rows in (("tandem", 20_000), ("full scan", 0)):
        t0 = time.perf_counter()
        m = SemanticMirror(rows.shape[1], coarse_min_rows=coarse_rows)
        m.replace({f"r{i}": r for i, r in enumerate(rows)})
        mirrors[name] = m
        print(f"  {name}: {len(m)} rows loaded in {time.perf_counter() - t0:.1f}s")
    texts = [squad.questions[int(s)].text for s in source]
    per_run: dict[str, list[float]] = {name: [] for name in mirrors}
    p99_run: dict[str, list[float]] = {name: [] for name in mirrors}
    tops: dict[str, list[str | None]] = {name: [] for name in mirrors}
    for run in range(runs):
        for name, m in mirrors.items():
            times = []
            for j in asked:
                q = squad.questions[j].text
                t0 = time.perf_counter()
                for h, sim in m.nearest(vecs[j], threshold=floor, limit=CANDIDATES):
                    if verifier.accepts(q, texts[int(h[1:])], sim):
                        break
                times.append(time.perf_counter() - t0)
                if run == 0:
                    near = m.nearest(vecs[j], threshold=floor, limit=1)
                    tops[name].append(near[0][0] if near else None)
            per_run[name].append(1000 * float(np.median(times)))
            p99_run[name].append(1000 * float(np.percentile(times, 99)))
    agree = sum(a == b for a, b in zip(tops["tandem"], tops["full scan"], strict=True))
    return {"per_run_ms": per_run, "p99_run_ms": p99_run, "agree": agree, "queries": len(asked)}


def tune(
    runs: dict[str, HalfRun],
    squad: Squad,
    verifier: HitVerifier,
    ps: ParaphraseSet,
    vecs: np.ndarray,
    articles: set[str],
    floor: float,
) -> None:
    """The search that chose the defaults: best tune-half precision among settings accepting at
    most one tune distinct question; ties broken by tune paraphrase hits, then hits."""
    v = HitVerifier(verifier.stats)
    qs = squad.questions

    def evidence(asked: str, cands: list[tuple[str, float, bool]]) -> list[tuple[float, ...]]:
        """Per candidate past the hard checks: (cosine, overlap, worst miss, label)."""
        out: list[tuple[float, ...]] = []
        a = v.evidence(asked)
        for text, sim, label in cands:
            b = v.evidence(text)
            if sim >= floor and v.hard_check(a, b) is None:
                out.append((sim, *v.lexical(a, b), float(label)))
        return out

    squad_c = [
        evidence(qs[j].text, [(qs[i].text, s, bool(qs[i].golds & qs[j].golds)) for i, s in c])
        for j, c in runs["tune"].cands
    ]
    by_id = {q.qid: i for i, q in enumerate(qs)}
    items = [(k, it) for k, it in enumerate(ps.items) if it["article"] in articles]
    pool = pool_of([by_id[it["id"]] for _, it in items], squad, vecs)
    para_c, dist_c = [], []
    for k, it in items:
        orig = by_id[it["id"]]
        c = pool.candidates(ps.para_vecs[k])
        para_c.append(evidence(it["paraphrase"], [(qs[i].text, s, i == orig) for i, s in c]))
        c = pool.candidates(ps.distinct_vecs[k])
        dist_c.append(evidence(it["distinct"], [(qs[i].text, s, False) for i, s in c]))

    def first(cands: list[tuple[float, ...]], p: VerifierParams) -> float | None:
        for cos, overlap, worst, label in cands:
            if cos + p.overlap_weight * overlap - p.miss_weight * worst >= p.accept:
                return label
        return None

    best: list[tuple[float, int, int, int, VerifierParams]] = []
    for ow in (0.0, 0.1, 0.2, 0.3, 0.5):
        for mw in (0.0, 0.1, 0.2, 0.3, 0.5):
            for acc in np.arange(0.85, 1.30, 0.01):
                p = VerifierParams(accept=round(float(acc), 2), overlap_weight=ow, miss_weight=mw)
                got = [first(c, p) for c in squad_c]
                hits = sum(g is not None for g in got)
                false = sum(g == 0.0 for g in got)
                ph = sum(first(c, p) == 1.0 for c in para_c)
                dh = sum(first(c, p) is not None for c in dist_c)
                if hits and dh <= 1:
                    best.append(((hits - false) / hits, ph, hits, false, p))
    best.sort(key=lambda b: (b[0], b[1], b[2]), reverse=True)
    print("\n--tune: best settings on the tune half (precision, paraphrase hits, hits, false)")
    for b in best[:8]:
        print(f"  {b[0]:.3f} {b[1]:3d} {b[2]:4d} {b[3]:3d}  {b[4]}")
    # the threshold at the service's weights (how the default was recalibrated for int8 vectors)
    current = verifier.params
    print(
        f"\n--tune: threshold sweep at miss weight {current.miss_weight}, overlap weight "
        f"{current.overlap_weight} (tune half): accept, SQuAD hits, false, paraphrases, distinct"
    )
    for acc in np.arange(0.86, 0.935, 0.01):
        p = VerifierParams(
            accept=round(float(acc), 2),
            overlap_weight=current.overlap_weight,
            miss_weight=current.miss_weight,
        )
        got = [first(c, p) for c in squad_c]
        hits = sum(g is not None for g in got)
        false = sum(g == 0.0 for g in got)
        ph = sum(first(c, p) == 1.0 for c in para_c)
        dh = sum(first(c, p) is not None for c in dist_c)
        print(f"  {p.accept:.2f} {hits:4d} {false:3d} {ph:3d}/{len(items)} {dh}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--runs", type=int, default=3, help="timing runs of the 100k lookup")
    ap.add_argument("--rows", type=int, default=100_000, help="cached questions for the cost")
    ap.add_argument("--cost-queries", type=int, default=500, help="asked questions timed")
    ap.add_argument(
        "--steps",
        default="tables,production,paraphrases,cost",
        help="comma-separated subset of tables,production,paraphrases,cost",
    )
    ap.add_argument("--tune", action="store_true", help="print the search over the weights")
    args = ap.parse_args()
    steps = set(args.steps.split(","))
    settings = OnlineSettings()
    squad = load(args.squad)
    halves = split_articles(squad.articles)
    vecs = encode_cached([q.text for q in squad.questions], settings)
    items = [json.loads(line) for line in PARAPHRASES.read_text("utf-8").splitlines()]
    pv = encode_cached(
        [it["paraphrase"] for it in items] + [it["distinct"] for it in items], settings
    )
    ps = ParaphraseSet(items, pv[: len(items)], pv[len(items) :])
    stats = TermStats.from_texts(Tokenizer(default_lexical_config()), squad.paragraphs)
    params = VerifierParams(
        accept=settings.semantic_accept,
        overlap_weight=settings.semantic_overlap_weight,
        miss_weight=settings.semantic_miss_weight,
    )
    verifier = HitVerifier(stats, params)
    floor = settings.semantic_threshold
    rows_of = {
        h: [i for i, q in enumerate(squad.questions) if q.article in arts]
        for h, arts in halves.items()
    }
    runs = {h: half_run(rows, squad, vecs) for h, rows in rows_of.items()}
    print(
        f"SQuAD dev: {len(squad.questions)} questions, {len(squad.articles)} articles split "
        f"{len(halves['tune'])}/{len(halves['held-out'])} (seed {SPLIT_SEED}); term statistics: "
        f"{stats.documents} paragraphs, {len(stats.document_frequency)} terms"
    )
    if args.tune:
        tune(runs, squad, verifier, ps, vecs, halves["tune"], floor)
    tandem_name = (
        f"**Tandem verifier** (candidates >= {floor}, accept {params.accept}, miss weight "
        f"{params.miss_weight}, overlap weight {params.overlap_weight})"
    )
    rules: list[tuple[str, Decider]] = [(name, plain(t)) for name, t in PEERS]
    rules.append(("Tandem before (0.95 + signature check)", signature_rule(0.95)))
    rules.append((tandem_name, verifier_rule(verifier, floor)))
    for half in ("held-out", "tune") if "tables" in steps else ():
        run = runs[half]
        print(
            f"\n{half} half: {len(rows_of[half])} questions, {run.asked} asked "
            f"({len(run.cands)} not cached verbatim)\n"
        )
        print(
            "| system (setting) | semantic hits (% asked) | precision of hits "
            "| false hits (% asked) |"
        )
        print("|---|---|---|---|")
        for name, decide in rules:
            print(row(name, *score(run, squad, decide), run.asked))

    if "production" in steps:
        res = asyncio.run(
            production(args.redis_url, settings, squad, rows_of["held-out"], vecs, verifier)
        )
        report_production(args.redis_url, res)
    if "paraphrases" in steps:
        report_paraphrases(ps, squad, vecs, halves, verifier_rule(verifier, floor))
    if "cost" in steps:
        asked = [j for j, _ in runs["held-out"].cands][: args.cost_queries]
        report_cost(squad, vecs, asked, verifier, floor, rows=args.rows, runs=max(1, args.runs))


def report_production(url: str, res: dict[str, Any]) -> None:
    n = res["asked"]
    print(
        f"\nproduction path, held-out half (Redis {url}; get_exact then get_semantic, "
        f"verifier on): {res['cached']} cached, {n} asked, exact hits {res['exact']}, semantic "
        f"hits {res['semantic']} ({100 * res['semantic'] / n:.2f}%), false "
        f"{res['false_semantic']}; lookup median {res['lookup_ms']:.2f} ms (both Redis reads)"
    )


def report_paraphrases(
    ps: ParaphraseSet, squad: Squad, vecs: np.ndarray, halves: dict[str, set[str]], decide: Decider
) -> None:
    print(f"\nparaphrase set ({PARAPHRASES.relative_to(ROOT)}, {len(ps.items)} items)\n")
    print("| half | cache | items | paraphrases hit | distinct hit |")
    print("|---|---|---|---|---|")
    for half in ("held-out", "tune"):
        for distractors in (False, True):
            total, ph, dh = paraphrase_results(
                ps, squad, vecs, halves[half], decide, distractors=distractors
            )
            cache = "the half's SQuAD questions" if distractors else "the set's questions"
            print(f"| {half} | {cache} | {total} | {ph} ({100 * ph / total:.1f}%) | {dh} |")


def report_cost(
    squad: Squad,
    vecs: np.ndarray,
    asked: list[int],
    verifier: HitVerifier,
    floor: float,
    *,
    rows: int,
    runs: int,
) -> None:
    print(f"\nlookup cost at {rows} cached questions ({len(asked)} held-out questions asked)")
    cost = lookup_cost(squad, vecs, asked, verifier, floor, total=rows, runs=runs)
    med = {k: float(np.median(v)) for k, v in cost["per_run_ms"].items()}
    for name, vals in cost["per_run_ms"].items():
        p99s = cost["p99_run_ms"][name]
        print(
            f"  {name}: median per question {med[name]:.3f} ms over {len(vals)} runs "
            f"(run medians {min(vals):.3f}-{max(vals):.3f} ms); p99 "
            f"{float(np.median(p99s)):.3f} ms (run p99s {min(p99s):.3f}-{max(p99s):.3f} ms)"
        )
    print(
        f"  ratio full scan / tandem: {med['full scan'] / med['tandem']:.1f}x; top-1 candidate "
        f"the same as the full scan's for {cost['agree']}/{cost['queries']} questions"
    )
    print(f"  load average: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
