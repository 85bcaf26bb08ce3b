"""Follow the live-index pointer and swap versions without downtime.

The pointer is the Redis key ``tandem:index:live`` (a JSON manifest) with the ``indexes/LIVE`` file
as fallback; a change is noticed by a message on ``tandem:index:events`` or, when pub/sub is
unavailable or silent, by polling every ``reload_poll_s``. Only a published version is loaded
(``core.index.trust.check_published``: a version name inside ``indexes/`` whose manifest digest
publish recorded); it is loaded and verified in a worker thread (checksums, dimension, embedding
model, schema version) and only then swapped in.
A failed load leaves the old version serving and is reported by ``/readyz`` and the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from core.artifacts import ArtifactStore, LocalArtifactStore
from core.errors import CoreError
from core.index import IndexLoadError, read_live_version
from core.index.fetch import materialise_version, prune_cache
from core.index.trust import check_published
from online.index_state import IndexHolder, IndexState, load_state
from online.metrics import ServiceMetrics
from online.redis_conn import deadline
from online.settings import OnlineSettings
from shared_schemas.base import SchemaError
from shared_schemas.layout import LIVE_CHANNEL, LIVE_MANIFEST_KEY
from shared_schemas.manifest import IndexManifest

log = logging.getLogger(__name__)

Loader = Callable[[Path], IndexState]


@dataclass(frozen=True)
class ReloadOutcome:
    version: str | None
    swapped: bool
    error: str | None = None


class IndexReloader:
    def __init__(
        self,
        *,
        settings: OnlineSettings,
        holder: IndexHolder,
        redis: Any | None,
        metrics: ServiceMetrics | None = None,
        loader: Loader | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        self.settings = settings
        self.holder = holder
        self.redis = redis
        self.metrics = metrics
        self.loader: Loader = loader or (
            lambda d: load_state(d, expected_model=settings.embedding_model)
        )
        # a remote store (S3): versions are downloaded into ``index_cache_dir`` and verified
        self.artifacts = None if isinstance(artifacts, LocalArtifactStore) else artifacts
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failed: set[str] = set()

    async def live_version(self) -> str | None:
        """The version the pointer names: the Redis manifest first, else the LIVE file."""
        if self.redis is not None:
            try:
                async with deadline():
                    raw = await self.redis.get(LIVE_MANIFEST_KEY)
                if raw is not None:
                    return IndexManifest.parse(raw).index_version
            except (RedisError, OSError, TimeoutError) as exc:
                log.debug("live pointer not readable from Redis, using the LIVE file: %s", exc)
            except SchemaError as exc:
                log.warning("live manifest in Redis unreadable, using the LIVE file: %s", exc)
        if self.artifacts is not None:
            try:
                return await asyncio.to_thread(self.artifacts.read_live)
            except (CoreError, OSError) as exc:
                log.warning("live pointer not readable from %r: %s", self.artifacts, exc)
                return None
        return await asyncio.to_thread(read_live_version, self.settings.indexes_dir)

    async def reload(self, version: str | None = None, *, force: bool = False) -> ReloadOutcome:
        """Load ``version`` (default: the live one) and swap it in; serialised."""
        async with self._lock:
            target = version or await self.live_version()
            current = self.holder.current
            if target is None:
                return ReloadOutcome(None, False, "no live version is published")
            if current is not None and current.version == target and not force:
                return ReloadOutcome(target, False)
            if target in self._failed and not force and version is None:
                return ReloadOutcome(target, False, self.holder.last_error)
            try:
                state = await asyncio.to_thread(self._load, target)
            except IndexLoadError as exc:
                return self._fail(target, str(exc))
            except Exception as exc:  # a broken version must never take the service down
                log.exception("unexpected error loading index %s", target)
                return self._fail(target, f"{type(exc).__name__}: {exc}")
            self._failed.discard(target)
            self.holder.swap(state)
            if self.metrics:
                self.metrics.index_swaps.inc()
                self.metrics.set_index(state.version, state.age_s())
            return ReloadOutcome(target, True)

    def _load(self, version: str) -> IndexState:
        """Load a published version (blocking): the name and publish record are checked first,
        so a name from Redis or the admin body never reaches the disk outside ``indexes/``."""
        state = self.loader(self._version_dir(version))
        if state.version != version:
            raise IndexLoadError(f"index version {version}: its manifest names {state.version}")
        return state

    def _version_dir(self, version: str) -> Path:
        """The local folder of ``version``: the published one in ``indexes/``, or a verified copy
        downloaded from the remote store into the cache (the store only holds published ones)."""
        if self.artifacts is None:
            return check_published(self.settings.indexes_dir, version)
        cache = self.settings.index_cache_dir
        folder = materialise_version(self.artifacts, version, cache)
        current = self.holder.current
        prune_cache(cache, {version} | ({current.version} if current else set()))
        return folder

    def _fail(self, version: str, error: str) -> ReloadOutcome:
        self._failed.add(version)
        self.holder.failed(version, error)
        if self.metrics:
            self.metrics.index_failures.inc()
        return ReloadOutcome(version, False, error)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="index-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        poll = self.settings.reload_poll_s
        while True:
            pubsub = None
            try:
                if self.redis is not None:
                    pubsub = self.redis.pubsub()
                    await pubsub.subscribe(LIVE_CHANNEL)
                while True:
                    if pubsub is not None:
                        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll)
                        published = _version_of(msg)
                        if published:
                            self._failed.discard(published)
                    else:
                        await asyncio.sleep(poll)
                    await self._safe_reload()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.info("index events unavailable (%s); polling every %.1fs", exc, poll)
                await asyncio.sleep(poll)
                await self._safe_reload()
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    async def _safe_reload(self) -> None:
        try:
            await self.reload()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("index reload check failed")


def _version_of(msg: Any) -> str | None:
    if not msg or msg.get("type") != "message":
        return None
    data = msg.get("data")
    return data.decode() if isinstance(data, bytes) else str(data)
