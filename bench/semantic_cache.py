"""Semantic-cache precision on SQuAD v1.1 dev.

Warm the semantic side with one half of the questions (question + gold answer as the cached
answer, question vector; no LLM needed), ask the other half, and count *false semantic hits*: the
cached question's gold answers and the asked question's gold answers share no normalised answer
string (SQuAD's official normalisation). Goal: false hits < 0.5% of asked questions; the hit rate
is reported beside it.

Two measurements:
1. the production path: ``RedisAnswerCache.put`` to warm, then for every asked question the
   service's own lookups (``AsyncRedisAnswerCache.get_exact`` then ``get_semantic`` at
   ``settings.semantic_threshold``) against the real Redis;
2. a sweep over thresholds, with and without the numbers/named-entities agreement check, using the
   same mirror and signature code in process.

    .venv/bin/python bench/semantic_cache.py [--squad PATH] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import string
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache.codec import CacheScope  # noqa: E402
from core.cache.redis_store import RedisAnswerCache  # noqa: E402
from core.encoder import get_encoder  # noqa: E402
from online.cache.async_cache import AsyncRedisAnswerCache  # noqa: E402
from online.cache.semantic import SemanticMirror  # noqa: E402
from online.redis_conn import async_redis, sync_redis  # noqa: E402
from online.settings import OnlineSettings  # noqa: E402
from online.signature import question_signature  # noqa: E402
from shared_schemas.cache import CacheEntry  # noqa: E402
from shared_schemas.hashing import question_key_hash  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json.gz"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's official answer normalisation."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def load(path: Path) -> list[tuple[str, frozenset[str], str]]:
    raw = path.read_bytes()
    data = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    out = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                golds = frozenset(normalize_answer(a["text"]) for a in qa["answers"])
                out.append((qa["question"].strip(), golds, qa["answers"][0]["text"]))
    return out


def sweep(
    cached: list[int],
    asked: list[int],
    vecs: np.ndarray,
    rows: list[tuple[str, frozenset[str], str]],
    threshold: float,
    check: bool,
) -> tuple[int, int]:
    """(hits, false hits) of the semantic side only (exact duplicates are left out)."""
    mirror = SemanticMirror(vecs.shape[1])
    by_hash: dict[str, int] = {}
    for i in cached:
        h = question_key_hash(rows[i][0])
        if h not in by_hash:
            by_hash[h] = i
            mirror.add(h, vecs[i])
    sigs = {h: question_signature(rows[i][0]) for h, i in by_hash.items()} if check else {}
    hits = false = 0
    for j in asked:
        if question_key_hash(rows[j][0]) in by_hash:
            continue  # an exact hit, not the semantic side's doing
        want = question_signature(rows[j][0]) if check else None
        for h, _sim in mirror.nearest(vecs[j], threshold=threshold):
            if want is not None and not sigs[h].agrees_with(want):
                continue
            hits += 1
            false += not (rows[by_hash[h]][1] & rows[j][1])
            break
    return hits, false


async def production(
    url: str,
    settings: OnlineSettings,
    rows: list[tuple[str, frozenset[str], str]],
    cached: list[int],
    asked: list[int],
    vecs: np.ndarray,
) -> dict[str, Any]:
    scope = CacheScope(
        index_version="bench-semantic",
        embedding_model=settings.embedding_model,
        llm_model="gold-answers",
        prompt_version=settings.prompt_version,
        namespace="bench-semantic",
    )
    writer = RedisAnswerCache(sync_redis(url))
    writer.purge(scope)
    now = datetime.now(UTC)
    answers_of: dict[str, frozenset[str]] = {}
    t0 = time.perf_counter()
    for i in cached:
        q, golds, first = rows[i]
        h = question_key_hash(q)
        if h in answers_of:
            continue
        answers_of[h] = golds
        entry = CacheEntry(
            question=q,
            normalized_key=h,
            answer=first,
            index_version=scope.index_version,
            embedding_model=scope.embedding_model,
            llm_model=scope.llm_model,
            prompt_version=scope.prompt_version,
            created_at=now,
            namespace=scope.namespace,
        )
        writer.put(entry, vecs[i], ttl_s=3600)
    warm_s = time.perf_counter() - t0
    cache = AsyncRedisAnswerCache(async_redis(url))
    exact = sem = false_sem = false_exact = 0
    t1 = time.perf_counter()
    for j in asked:
        q, golds, _ = rows[j]
        e = await cache.get_exact(scope, question_key_hash(q))
        if e is not None:
            exact += 1
            false_exact += not (answers_of[e.normalized_key] & golds)
            continue
        hit = await cache.get_semantic(scope, q, vecs[j], threshold=settings.semantic_threshold)
        if hit is not None:
            sem += 1
            false_sem += not (answers_of[hit.entry.normalized_key] & golds)
    ask_s = time.perf_counter() - t1
    writer.purge(scope)
    await cache.redis.aclose()
    return {
        "cached": len(answers_of),
        "asked": len(asked),
        "exact": exact,
        "false_exact": false_exact,
        "semantic": sem,
        "false_semantic": false_sem,
        "warm_s": warm_s,
        "lookup_ms": 1000 * ask_s / len(asked),
    }


def encode_cached(questions: list[str], settings: OnlineSettings) -> np.ndarray:
    """Question vectors, cached under var/bench/ (keyed by the questions and the model)."""
    import hashlib

    key = hashlib.sha256("\x00".join([settings.embedding_model, *questions]).encode()).hexdigest()[
        :16
    ]
    path = ROOT / "var" / "bench" / f"squad-questions-{key}.npy"
    if path.exists():
        print(f"SQuAD dev: {len(questions)} question vectors from {path}")
        return np.load(path)
    enc = get_encoder(settings.embedding_model_path, device=settings.device)
    t0 = time.perf_counter()
    vecs = enc.encode(questions, batch_size=128)
    print(f"SQuAD dev: {len(questions)} questions, encoded in {time.perf_counter() - t0:.1f}s")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    settings = OnlineSettings()
    rows = load(args.squad)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    cached = sorted(order[: len(rows) // 2].tolist())
    asked = sorted(order[len(rows) // 2 :].tolist())
    vecs = encode_cached([r[0] for r in rows], settings)
    print(f"cached half: {len(cached)}, asked half: {len(asked)}")

    res = asyncio.run(production(args.redis_url, settings, rows, cached, asked, vecs))
    n = res["asked"]
    print(
        f"\nproduction path (threshold {settings.semantic_threshold}, agreement check on): "
        f"semantic hits {res['semantic']} ({100 * res['semantic'] / n:.2f}% of asked), "
        f"false semantic hits {res['false_semantic']} ({100 * res['false_semantic'] / n:.3f}% of "
        f"asked; goal < 0.5%), exact hits {res['exact']} (false {res['false_exact']}), "
        f"lookup {res['lookup_ms']:.2f} ms/question, warm {res['warm_s']:.1f}s"
    )
    print("\nthreshold  check  sem_hits  hit_rate%  false  false%_of_asked  precision%")
    for threshold in (0.80, 0.85, 0.90, 0.95):
        for check in (False, True):
            hits, false = sweep(cached, asked, vecs, rows, threshold, check)
            prec = 100 * (hits - false) / hits if hits else float("nan")
            print(
                f"{threshold:9.2f}  {'on ' if check else 'off'}  {hits:8d}  "
                f"{100 * hits / len(asked):9.2f}  {false:5d}  {100 * false / len(asked):15.3f}  "
                f"{prec:10.1f}"
            )


if __name__ == "__main__":
    main()
