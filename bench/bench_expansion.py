"""Offline expansion (batch/expansion.py) on reworded questions people wrote: how many more
paraphrases the cache answers once the deep model's judged rewordings are aliases, beside the
wrong hits on same-topic different questions.

Items: the test half (articles at odd positions, as ``bench/bench_judge.py`` splits them; the
judge's cut was chosen on the even ones) of ``bench/data/semantic_paraphrases.jsonl``. In a real
Redis (a scope of its own, purged before and after): each item's question is cached (its vector,
a placeholder answer); then every paraphrase and distinct question is looked up as the service
does (``get_exact``, then ``get_semantic`` with the verifier and the service's threshold). Then
the deep model rewords each cached question (``--paraphrases`` lines), the judge keeps those above
the cut (``--cut``, default the batch setting) as aliases, and the lookups run again. A
paraphrase counts when it finds its own question (or an alias of it); a distinct question
counts as wrong when it finds anything. Rates with Wilson 95% intervals and N; the expansion's
time per question (median with spread) and the load average.

    .venv/bin/python bench/bench_expansion.py [--paraphrases 3] [--cut C] [--limit 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_judge import PAIRS, wilson  # noqa: E402
from bench_llm import loadavg, spread  # noqa: E402
from semantic_cache import DEFAULT_SQUAD  # noqa: E402
from semantic_cache import load as load_squad  # noqa: E402

from batch.expansion import expand  # noqa: E402
from batch.settings import BatchSettings  # noqa: E402
from core.answering import Answerer  # noqa: E402
from core.bootstrap import answer_config  # noqa: E402
from core.cache.codec import CacheScope  # noqa: E402
from core.cache.redis import RedisAnswerCache  # noqa: E402
from core.cache.redis_sync import RedisAnswerCacheSync  # noqa: E402
from core.encoder import encoder_for, model_words  # noqa: E402
from core.index.lexical import Tokenizer, default_lexical_config  # noqa: E402
from core.llm.factory import build_llm  # noqa: E402
from core.matching.spelling import Speller, word_counts  # noqa: E402
from core.matching.terms import TermStats  # noqa: E402
from core.matching.verifier import HitVerifier, VerifierParams  # noqa: E402
from core.redis_clients import async_redis, sync_redis  # noqa: E402
from online.settings import OnlineSettings  # noqa: E402
from shared_schemas.cache import CacheEntry  # noqa: E402
from shared_schemas.config import DEEP_LLM_MODEL_ID, FAST_LLM_MODEL_ID  # noqa: E402
from shared_schemas.hashing import embedding_text, question_key_hash  # noqa: E402


async def lookups(
    url: str,
    scope: CacheScope,
    items: list[dict[str, Any]],
    vecs: dict[str, Any],
    settings: OnlineSettings,
    verifier: HitVerifier,
    owner: dict[str, str],
) -> tuple[int, int]:
    cache = RedisAnswerCache(async_redis(url))
    found = wrong = 0
    try:
        for it in items:
            for kind in ("paraphrase", "distinct"):
                text = it[kind]
                hit = await cache.get_exact(scope, question_key_hash(text))
                if hit is None:
                    sem = await cache.get_semantic(
                        scope,
                        text,
                        vecs[text],
                        threshold=settings.semantic_threshold,
                        verifier=verifier,
                    )
                    hit = sem.entry if sem is not None else None
                if hit is None:
                    continue
                if kind == "paraphrase":
                    found += owner.get(hit.normalized_key) == it["id"]
                else:
                    wrong += 1
    finally:
        await cache.redis.aclose()
    return found, wrong


def labelled_entry(
    scope: CacheScope, question: str, item_id: str, now: datetime, alias_of: str | None = None
) -> CacheEntry:
    """A cached question whose answer is its item's id (a hit names whose entry served it)."""
    return CacheEntry(
        question=question,
        normalized_key=question_key_hash(question),
        answer=item_id,
        index_version=scope.index_version,
        embedding_model=scope.embedding_model,
        llm_model=scope.llm_model,
        prompt_version=scope.prompt_version,
        created_at=now,
        namespace=scope.namespace,
        alias_of=alias_of,
        tier="deep",
    )


def service_verifier(online: OnlineSettings) -> HitVerifier:
    """The evidence verifier as the service builds it, with the term statistics of the corpus
    the questions are about (SQuAD dev's paragraphs)."""
    stats = TermStats.from_texts(
        Tokenizer(default_lexical_config()), load_squad(DEFAULT_SQUAD).paragraphs
    )
    return HitVerifier(
        stats,
        VerifierParams(
            accept=online.semantic_accept,
            overlap_weight=online.semantic_overlap_weight,
            miss_weight=online.semantic_miss_weight,
        ),
    )


def service_speller() -> Speller:
    """The speller as the service builds it: the words of the corpus the questions are about."""
    return Speller(word_counts(load_squad(DEFAULT_SQUAD).paragraphs), model_words())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paraphrases", type=int, default=3)
    ap.add_argument("--cut", type=float, default=None)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = ap.parse_args()
    batch = BatchSettings(llm_model=FAST_LLM_MODEL_ID, deep_llm_model=DEEP_LLM_MODEL_ID)
    cut = batch.judge_cut if args.cut is None else args.cut
    online = OnlineSettings()
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    articles = list(dict.fromkeys(r["article"] for r in rows))
    test_arts = {a for i, a in enumerate(articles) if i % 2 == 1}
    items = [r for r in rows if r["article"] in test_arts]
    if args.limit:
        items = items[: args.limit]
    print(
        f"{len(items)} test-half items; cut {cut}; {args.paraphrases} rewordings; load {loadavg()}"
    )

    encoder = encoder_for(online)
    texts = [t for it in items for t in (it["question"], it["paraphrase"], it["distinct"])]
    # as the service embeds a question: its embedding form
    vecs = dict(zip(texts, encoder.encode([embedding_text(t) for t in texts]), strict=True))
    verifier = service_verifier(online)
    scope = CacheScope("bench-expansion", online.embedding_model, "bench", "p7", "bench-expansion")
    writer = RedisAnswerCacheSync(sync_redis(args.redis_url))
    writer.purge(scope)
    now = datetime.now(UTC)
    owner: dict[str, str] = {}

    def put(question: str, vector: Any, item_id: str, alias_of: str | None = None) -> None:
        h = question_key_hash(question)
        owner[h] = item_id
        writer.put(labelled_entry(scope, question, item_id, now, alias_of), vector, ttl_s=3600)

    for it in items:
        put(it["question"], vecs[it["question"]], it["id"])
    before = asyncio.run(lookups(args.redis_url, scope, items, vecs, online, verifier, owner))

    llm = build_llm(batch.for_tier("deep"))
    answerer = Answerer(encoder=encoder, llm=llm, config=answer_config(batch, "deep"))
    took: list[float] = []
    kept = judged = 0
    for it in items:
        t0 = time.perf_counter()
        aliases, n = expand(answerer, it["question"], n=args.paraphrases, cut=cut)
        took.append(time.perf_counter() - t0)
        judged += n
        for alias in aliases:
            if question_key_hash(alias.question) not in owner:
                put(
                    alias.question,
                    encoder.encode([embedding_text(alias.question)])[0],
                    it["id"],
                    question_key_hash(it["question"]),
                )
                kept += 1
    llm.close()
    after = asyncio.run(lookups(args.redis_url, scope, items, vecs, online, verifier, owner))
    writer.purge(scope)

    n = len(items)
    for name, (found, wrong) in (("without aliases", before), ("with aliases", after)):
        f_lo, f_hi = wilson(found, n)
        w_lo, w_hi = wilson(wrong, n)
        print(
            f"{name:16s} paraphrases found {found}/{n} = {found / n:.1%} [{f_lo:.1%}, {f_hi:.1%}]; "
            f"wrong hits {wrong}/{n} = {wrong / n:.1%} [{w_lo:.1%}, {w_hi:.1%}]"
        )
    print(f"aliases kept {kept} of {judged} judged rewordings ({n} questions)")
    print(f"expansion per question {spread(took, ' s')}; load {loadavg()}")


if __name__ == "__main__":
    main()
