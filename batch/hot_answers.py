"""Precompute the answers to the hot questions of a date and write them to Redis.

``warm_cache`` mines the day's top-K questions from the online query log, adds an optional seed
list, and answers each one with the core's one answer computation (``Answerer.answer_once``,
built by ``core.bootstrap.build_answerer`` as the service builds its own), so a precomputed
answer is the one the service would give. Entries go under versioned keys (schema, index
version, embedding model, LLM, prompt, question hash) with a TTL. Warming a
candidate version first carries over the live version's entries whose sources did not change.
Re-running a date rewrites the same keys: the result is the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from batch.cache_carry import CarryReport, carry_over
from batch.errors import BatchError
from batch.expansion import alias_answer, expand
from batch.query_log import HotQuestion, iter_events, top_questions
from batch.redis_client import connect
from batch.settings import BatchSettings
from core.answering import Answerer
from core.bootstrap import build_answerer
from core.cache.factory import answer_cache_sync_for
from core.cache.port import AnswerCacheSync
from core.index import LoadedIndex, load_index, read_live_version
from shared_schemas.hashing import normalize_question, question_key_hash
from shared_schemas.layout import IDMAP_FILE

log = logging.getLogger(__name__)


class HotAnswersError(BatchError, RuntimeError):
    """The cache could not be warmed (no index version, unreadable seeds)."""


class NoIndexToWarm(HotAnswersError):
    """No version was named and none is live yet (nothing has been published)."""

    def __init__(self) -> None:
        super().__init__(
            "no index version published yet: nothing to warm; publish one first "
            "or name the version to warm"
        )


@dataclass
class WarmReport:
    run_date: str
    index_version: str
    mined: int = 0
    seeds: int = 0
    written: int = 0
    already_cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    carry: CarryReport | None = None
    #: the tier and model that wrote the answers ("deep (Qwen...)")
    producer: str = ""
    #: paraphrases judged, and those kept as aliases (``batch/expansion.py``)
    judged: int = 0
    aliases: int = 0

    def summary(self) -> str:
        text = (
            f"warmed {self.index_version} for {self.run_date}: {self.mined} hot + {self.seeds} "
            f"seed questions, {self.written} answers written by {self.producer}, "
            f"{self.already_cached} already cached, {len(self.failed)} failed"
        )
        if self.judged:
            text += f", {self.aliases} of {self.judged} judged paraphrases kept as aliases"
        if self.carry is not None:
            text += "; " + self.carry.summary()
        return text


def _outranked(cached_tier: str | None, warm_tier: str) -> bool:
    """A cached fast answer (a live one) is replaced when the deep tier warms its question;
    a deep answer, or one of unknown origin, stays."""
    return warm_tier == "deep" and cached_tier == "fast"


def read_seed_questions(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HotAnswersError(f"cannot read seed questions {path}: {exc}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def index_chunk_hashes(version_dir: Path) -> dict[str, str]:
    table = pq.read_table(version_dir / IDMAP_FILE, columns=["chunk_id", "content_hash"])
    return dict(
        zip(
            table.column("chunk_id").to_pylist(),
            table.column("content_hash").to_pylist(),
            strict=True,
        )
    )


def _questions(
    client: Any, run_date: date, top_k: int, questions_file: Path | None
) -> tuple[list[str], int, int]:
    hot: list[HotQuestion] = top_questions(iter_events(client, run_date), top_k)
    seeds = read_seed_questions(questions_file) if questions_file else []
    seen: set[str] = set()
    ordered: list[str] = []
    for q in [h.question for h in hot] + seeds:
        key = normalize_question(q)
        if key and key not in seen:
            seen.add(key)
            ordered.append(q)
    return ordered, len(hot), len(seeds)


def warm_cache(
    *,
    settings: BatchSettings,
    run_date: date,
    questions_file: Path | None = None,
    version: str | None = None,
    top_k: int | None = None,
    answerer: Answerer | None = None,
    redis_client: Any = None,
) -> WarmReport:
    """Warm ``version`` (default: the live one) with the hot questions of ``run_date``."""
    live = read_live_version(settings.indexes_dir)
    target = version or live
    if target is None:
        raise NoIndexToWarm()
    version_dir = settings.indexes_dir / target
    if not version_dir.is_dir():
        raise HotAnswersError(f"index version {target} not found in {settings.indexes_dir}")
    index = load_index(version_dir, expected_model=settings.embedding_model)
    own_client = redis_client is None
    own_answerer = answerer is None
    client = redis_client if redis_client is not None else connect(settings)
    try:
        if answerer is None:
            answerer = build_answerer(settings, tier="deep")
        report = _warm(
            client,
            answerer,
            index,
            settings=settings,
            run_date=run_date,
            target=target,
            live=live,
            questions_file=questions_file,
            top_k=top_k or settings.hot_top_k,
        )
    finally:
        if own_answerer and answerer is not None:
            answerer.llm.close()
        if own_client:
            client.close()
    log.info("cache warmed %s", report.summary())
    return report


def _warm(
    client: Any,
    answerer: Answerer,
    index: LoadedIndex,
    *,
    settings: BatchSettings,
    run_date: date,
    target: str,
    live: str | None,
    questions_file: Path | None,
    top_k: int,
) -> WarmReport:

    cache = answer_cache_sync_for(settings, redis=client)
    scope = answerer.scope(target)
    report = WarmReport(
        run_date=run_date.isoformat(),
        index_version=target,
        producer=f"{answerer.config.tier} ({answerer.llm.model_id})",
    )
    if live and live != target:
        report.carry = carry_over(
            client,
            old=answerer.scope(live),
            new=scope,
            new_chunks=index_chunk_hashes(settings.indexes_dir / target),
            ttl_s=settings.cache_ttl_s,
        )
    questions, report.mined, report.seeds = _questions(client, run_date, top_k, questions_file)
    for question in tqdm(questions, desc=f"warm {target}", unit="q", disable=None):
        qhash = question_key_hash(question)
        cached = cache.get_exact(scope, qhash)
        if cached is not None and not _outranked(cached.tier, answerer.config.tier):
            report.already_cached += 1
            continue
        try:
            computed = answerer.answer_once(question, index)
        except Exception as exc:  # one failing question never stops the run
            report.failed[question] = str(exc)
            log.warning("hot answer failed question=%r error=%s", question, exc)
            continue
        entry = computed.to_cache_entry(
            origin="batch", ttl_s=settings.cache_ttl_s, now=datetime.now(UTC)
        )
        cache.put(entry, computed.question_vector, ttl_s=settings.cache_ttl_s)
        report.written += 1
        _write_aliases(cache, answerer, computed, settings=settings, report=report)
    return report


def _write_aliases(
    cache: AnswerCacheSync,
    answerer: Answerer,
    computed: Any,
    *,
    settings: BatchSettings,
    report: WarmReport,
) -> None:
    """The judge-accepted paraphrases of a freshly warmed question, as aliases of its answer
    (never over an answer the deep tier made for that very question)."""
    if settings.warm_paraphrases <= 0 or answerer.config.tier != "deep":
        return
    try:
        aliases, judged = expand(
            answerer,
            computed.question,
            n=settings.warm_paraphrases,
            cut=settings.judge_cut,
            prompt=settings.judge_prompt,
            answer=computed.answer,
        )
    except Exception as exc:  # expansion is a bonus: a failure never fails the warm
        log.warning("expansion failed question=%r error=%s", computed.question, exc)
        return
    report.judged += judged
    scope = computed.scope()
    for alias in aliases:
        made = alias_answer(answerer, computed, alias.question)
        existing = cache.get_exact(scope, made.question_hash)
        if existing is not None and existing.tier == "deep" and existing.alias_of is None:
            continue
        entry = made.to_cache_entry(
            origin="batch",
            ttl_s=settings.cache_ttl_s,
            now=datetime.now(UTC),
            alias_of=computed.question_hash,
        )
        cache.put(entry, made.question_vector, ttl_s=settings.cache_ttl_s)
        report.aliases += 1
