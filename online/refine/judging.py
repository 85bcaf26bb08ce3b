"""Borderline misses judged in the background (issue 24 item 1).

A question that misses the cache although a cached one lies close (cosine at or above
``judge_floor``, under what the semantic side accepts) is answered live at once; the pair
(asked question, nearest cached one) goes to ``tandem:judge``. The judge worker (`tandem worker
--judge`, the deep tier's model) asks whether both ask for the same information; above
``judge_cut`` (the mean of both orders' scores; with an answer-aware prompt, the score of the
cached question and answer against the asked one) the cached answer is written under the asked
question's own key and vector as an alias (``alias_of``), so the next ask of it is a plain
lookup. A pair that fails one of the verifier's hard checks (swapped roles, opposite words,
other numbers) is ruled out without asking the model: the judge does not overrule that
evidence, but for the checks ``judge_overrule`` names, each with a cut of its own. Each pair is
judged once (a marker per pair, with a TTL); the stream is bounded. Acknowledged once handled; a
judgment that fails is dropped (it was optional)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError, ResponseError

from core.cache.codec import CacheScope
from core.cache.port import AnswerCacheSync
from core.cache.redis_sync import RedisAnswerCacheSync
from core.encoder import TextEncoder
from core.llm.judge import LogprobLLM, PairJudge
from core.matching.terms import TermStats
from core.matching.verifier import HitVerifier
from shared_schemas.hashing import embedding_text, sha256_hex
from shared_schemas.layout import JUDGE_STREAM, JUDGED_PREFIX

log = logging.getLogger(__name__)

JUDGE_GROUP = "tandem-judges"


def judged_marker(scope: CacheScope, qhash: str, candidate: str) -> str:
    """The key recording the judge's verdict on (asked question, cached candidate)."""
    return f"{JUDGED_PREFIX}:{sha256_hex(scope.semantic_key())[:16]}:{qhash}:{candidate}"


async def enqueue_judgment(
    redis: Any,
    scope: CacheScope,
    *,
    question: str,
    qhash: str,
    candidate: str,
    similarity: float,
    ttl_s: int,
    maxlen: int,
) -> bool:
    """Queue the pair unless it was queued before (True when queued)."""
    if not await redis.set(judged_marker(scope, qhash, candidate), "queued", nx=True, ex=ttl_s):
        return False
    payload = pair_fields(scope, question, qhash, candidate, similarity)
    await redis.xadd(JUDGE_STREAM, payload, maxlen=maxlen, approximate=True)
    return True


def pair_fields(
    scope: CacheScope, question: str, qhash: str, candidate: str, similarity: float
) -> dict[str, str]:
    """The stream entry of one pair, as :meth:`JudgeWorker.process` reads it."""
    pair = {
        "scope": [
            scope.index_version,
            scope.embedding_model,
            scope.llm_model,
            scope.prompt_version,
            scope.namespace,
        ],
        "question": question,
        "qhash": qhash,
        "candidate": candidate,
        "similarity": round(similarity, 4),
    }
    return {"pair": json.dumps(pair)}


@dataclass
class JudgeStats:
    judged: int = 0  # pairs the model judged
    aliased: int = 0
    skipped: int = 0
    ruled_out: int = 0  # pairs a hard check of the verifier found different, the model not asked


def build_judge_worker(settings: Any) -> JudgeWorker:
    """The real one: the deep tier's LLM as judge, the bundled encoder, Redis from settings."""
    from core.cache.factory import answer_cache_sync_for
    from core.encoder import encoder_for
    from core.llm.factory import build_llm
    from core.redis_clients import sync_redis

    llm = build_llm(settings.for_tier("deep"))
    if not isinstance(llm, LogprobLLM):
        llm.close()
        raise ValueError("the deep tier's backend reports no log-probabilities: no judge")
    redis = sync_redis(settings.redis_url)
    return JudgeWorker(
        redis=redis,
        judge=PairJudge(llm, prompt=settings.judge_prompt),
        encoder=encoder_for(settings),
        cut=settings.judge_cut,
        ttl_s=settings.judge_ttl_s,
        cache=answer_cache_sync_for(settings, redis=redis, capacity=settings.cache_capacity),
        overrule=settings.judge_overrule,
    )


class JudgeWorker:
    def __init__(
        self,
        *,
        redis: Any,
        judge: PairJudge,
        encoder: TextEncoder,
        cut: float,
        ttl_s: int,
        cache: AnswerCacheSync | None = None,
        consumer: str | None = None,
        overrule: dict[str, float] | None = None,
    ) -> None:
        self.redis = redis
        self.judge = judge
        self.encoder = encoder
        self.cut = cut
        #: hard checks the judge may overrule, each with its own (higher) cut
        self.overrule = dict(overrule or {})
        self.ttl_s = ttl_s
        self.cache = cache or RedisAnswerCacheSync(redis)
        # the verifier's hard checks (roles swapped, opposite words, numbers...) need no term
        # weights: the default tokenizer does
        self.checks = HitVerifier(TermStats.of_index(None))
        self.consumer = consumer or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self.stats = JudgeStats()

    def _group(self) -> None:
        try:
            self.redis.xgroup_create(JUDGE_STREAM, JUDGE_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(
        self, *, stop: threading.Event | None = None, max_pairs: int | None = None
    ) -> JudgeStats:
        self._group()
        stop = stop or threading.Event()
        handled = 0
        while not stop.is_set() and (max_pairs is None or handled < max_pairs):
            got = self.redis.xreadgroup(
                JUDGE_GROUP, self.consumer, {JUDGE_STREAM: ">"}, count=8, block=1000
            )
            for _, messages in got or ():
                for msg_id, fields in messages:
                    self.process(msg_id, fields)
                    handled += 1
        return self.stats

    def process(self, msg_id: Any, fields: dict[Any, Any]) -> None:
        try:
            raw = fields.get(b"pair") or fields.get("pair")
            pair = json.loads(raw or "")
            scope = CacheScope(*pair["scope"])
            self._judge(scope, pair)
        except (RedisError, OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("judgment dropped: %s", exc)
            self.stats.skipped += 1
        except Exception as exc:  # the LLM down, a bad answer: the judgment was optional
            log.warning("judgment failed: %s", exc)
            self.stats.skipped += 1
        finally:
            self.redis.xack(JUDGE_STREAM, JUDGE_GROUP, msg_id)

    def _judge(self, scope: CacheScope, pair: dict[str, Any]) -> None:
        cached = self.cache.get_exact(scope, pair["candidate"])
        if cached is None:  # expired or evicted meanwhile
            self.stats.skipped += 1
            return
        failed = self.checks.hard_check(
            self.checks.evidence(pair["question"]), self.checks.evidence(cached.question)
        )
        cut = self.cut if failed is None else self.overrule.get(failed)
        if cut is None:  # evidence the judge does not overrule (bench/pair_table.py)
            self.stats.ruled_out += 1
            verdict, recorded = "different", f"different ({failed})"
        else:
            score = self.judge.score_pair(cached.question, pair["question"], cached.answer)
            self.stats.judged += 1
            verdict = "same" if score > cut else "different"
            recorded = f"{verdict} {score:.4f}" + (f" (over {failed})" if failed else "")
        self.redis.set(
            judged_marker(scope, pair["qhash"], pair["candidate"]), recorded, ex=self.ttl_s
        )
        log.info(
            "judged sim=%.3f %s asked=%r cached=%r",
            pair["similarity"],
            recorded,
            pair["question"][:80],
            cached.question[:80],
        )
        if verdict != "same":
            return
        alias = cached.model_copy(
            update={
                "question": pair["question"],
                "normalized_key": pair["qhash"],
                "alias_of": cached.alias_of or cached.normalized_key,
                "created_at": datetime.now(UTC),
            }
        )
        self.cache.put(
            alias, self.encoder.encode([embedding_text(pair["question"])])[0], ttl_s=self.ttl_s
        )
        self.stats.aliased += 1
