"""`tandem worker`: answer refinement jobs with the deeper configuration.

Reads ``tandem:refine`` as a member of the consumer group ``tandem-refiners``. A job is
acknowledged only once its outcome is stored, so a worker killed mid-job leaves it pending and the
next worker reclaims it (``XAUTOCLAIM`` of entries idle over ``refine_claim_idle_s``). A job that
fails (LLM down, no index) is marked ``failed`` with the reason and acknowledged; it is not retried.
The refined answer replaces the cache entry for the question (same versioned key, origin
``refined``).
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError, ResponseError

from core.answering import Answerer
from core.artifacts import ArtifactStore, open_artifact_store
from core.bootstrap import build_answerer
from core.cache.factory import answer_cache_sync_for
from core.cache.port import AnswerCacheSync
from core.index import IndexLoadError
from core.index.fetch import materialise_version, prune_cache, read_pointer
from online.answers import Source
from online.index_state import IndexState, load_state
from online.refine.config import RefineSettings
from online.refine.jobs import REFINE_GROUP, JobStatus, RefineJob, job_key, write_status
from shared_schemas.base import SchemaError
from shared_schemas.layout import LIVE_MANIFEST_KEY, REFINE_STREAM
from shared_schemas.manifest import IndexManifest

log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    done: int = 0
    failed: int = 0
    reclaimed: int = 0


def ensure_group(redis: Any) -> None:
    try:
        redis.xgroup_create(REFINE_STREAM, REFINE_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class RefineWorker:
    def __init__(
        self,
        *,
        settings: RefineSettings,
        redis: Any,
        answerer: Answerer,
        store: AnswerCacheSync | None = None,
        consumer: str | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        """``answerer``: the deep one (:func:`refine_answerer`); ``store``: default the one
        ``TANDEM_CACHE_BACKEND`` names (``core.cache.factory``);
        ``artifacts``: where the index versions are (default: the settings' store, local or
        S3)."""
        self.settings = settings
        self.artifacts = artifacts or open_artifact_store(settings.artifact_store_config())
        self.redis = redis
        self.answerer = answerer
        self.cache: AnswerCacheSync = (
            store
            if store is not None
            else answer_cache_sync_for(settings, redis=redis, capacity=settings.cache_capacity)
        )
        self.consumer = consumer or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self.stats = WorkerStats()
        self._state: IndexState | None = None

    # ----- index -----
    def _live_version(self) -> str | None:
        """As the service's reloader: the artifact store's ``LIVE`` pointer (the local file,
        or S3's) first, the Redis manifest when it cannot be read."""
        pointer = read_pointer(self.artifacts)
        if pointer is not None:
            return pointer
        try:
            raw = self.redis.get(LIVE_MANIFEST_KEY)
            if raw is not None:
                return IndexManifest.parse(raw).index_version
        except (RedisError, OSError, SchemaError) as exc:
            log.debug("live manifest unreadable: %s", exc)
        return None

    def index(self) -> IndexState:
        """The live version, loaded from where the deployment keeps it (``indexes/``, or a
        verified download from S3 into ``index-cache/``, as the service does)."""
        version = self._live_version()
        if version is None:
            raise IndexLoadError("no live index version is published")
        if self._state is None or self._state.version != version:
            cache = self.settings.index_cache_dir
            self._state = load_state(
                materialise_version(self.artifacts, version, cache),
                expected_model=self.settings.embedding_model,
            )
            prune_cache(cache, {version})
        return self._state

    # ----- loop -----
    def run(
        self, *, stop: threading.Event | None = None, max_jobs: int | None = None
    ) -> WorkerStats:
        """Process jobs until ``stop`` is set or ``max_jobs`` have been handled."""
        ensure_group(self.redis)
        stop = stop or threading.Event()
        handled = 0
        while not stop.is_set() and (max_jobs is None or handled < max_jobs):
            batch = self._reclaim() or self._read(block_ms=1000)
            for msg_id, fields in batch:
                self.process(msg_id, fields)
                handled += 1
                if max_jobs is not None and handled >= max_jobs:
                    break
        return self.stats

    def _reclaim(self) -> list[tuple[Any, dict[Any, Any]]]:
        idle_ms = int(self.settings.refine_claim_idle_s * 1000)
        res = self.redis.xautoclaim(
            REFINE_STREAM,
            REFINE_GROUP,
            self.consumer,
            min_idle_time=idle_ms,
            start_id="0-0",
            count=1,
        )
        claimed = [(m, f) for m, f in res[1] if f] if res else []
        if claimed:
            self.stats.reclaimed += len(claimed)
            log.info("reclaimed %d pending refinement job(s)", len(claimed))
        return claimed

    def _read(self, *, block_ms: int) -> list[tuple[Any, dict[Any, Any]]]:
        res = self.redis.xreadgroup(
            REFINE_GROUP, self.consumer, {REFINE_STREAM: ">"}, count=1, block=block_ms
        )
        return [(m, f) for _, msgs in res or [] for m, f in msgs]

    def process(self, msg_id: Any, fields: dict[Any, Any]) -> JobStatus | None:
        """Answer one job, store status and cache entry, then acknowledge it."""
        raw = fields.get(b"job") or fields.get("job")
        try:
            job = RefineJob.model_validate_json(raw or b"")
        except ValueError as exc:
            log.warning("unreadable refinement job %s dropped: %s", msg_id, exc)
            self.redis.xack(REFINE_STREAM, REFINE_GROUP, msg_id)
            return None
        ttl = self.settings.refine_job_ttl_s
        status = self._status(job)
        status = status.advance("running", attempts=status.attempts + 1)
        write_status(self.redis, status, ttl_s=ttl)
        try:
            state = self.index()
            computed = self.answerer.answer_once(job.question, state.index)
            entry = computed.to_cache_entry(
                origin="refined", ttl_s=self.settings.refined_cache_ttl_s or None
            )
            self.cache.put(entry, computed.question_vector)
            status = status.advance(
                "done",
                answer=computed.answer,
                sources=[Source.of(h).as_dict() for h in computed.hits],
                index_version=computed.index_version,
                error=None,
            )
            self.stats.done += 1
        except (RedisError, OSError):
            raise  # the job stays pending and is reclaimed once Redis is back
        except Exception as exc:
            log.warning("refinement job %s failed: %s", job.job_id, exc)
            status = status.advance("failed", error=f"{type(exc).__name__}: {exc}")
            self.stats.failed += 1
        write_status(self.redis, status, ttl_s=ttl)
        self.redis.xack(REFINE_STREAM, REFINE_GROUP, msg_id)
        return status

    def _status(self, job: RefineJob) -> JobStatus:
        raw = self.redis.get(job_key(job.job_id))
        if raw is not None:
            try:
                return JobStatus.model_validate_json(raw)
            except ValueError:
                pass
        return JobStatus(
            job_id=job.job_id,
            status="queued",
            question=job.question,
            created_at=job.created_at,
            updated_at=job.created_at,
        )


def refine_answerer(settings: RefineSettings, answerer: Answerer) -> Answerer:
    """``answerer`` (the deep tier's) with the refine path's deeper settings (more chunks,
    longer answers); its entries stay keyed for the service's fast model, so the service finds
    a refined answer where the live one was, and each records the tier and model."""
    return answerer.with_config(
        top_k=settings.refine_top_k,
        max_new_tokens=settings.refine_max_new_tokens,
        context_chars=settings.refine_context_chars,
    )


def build_worker(settings: RefineSettings) -> RefineWorker:
    """The real worker: bundled embedding model, deep LLM backend, Redis from settings."""
    from core.redis_clients import sync_redis

    answerer = build_answerer(settings, tier="deep")
    return RefineWorker(
        settings=settings,
        redis=sync_redis(settings.redis_url),
        answerer=refine_answerer(settings, answerer),
    )
