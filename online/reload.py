"""Follow the live-index pointer and swap versions without downtime.

The pointer is ``indexes/LIVE`` (or the remote store's LIVE), with the Redis key
``tandem:index:live`` (a JSON manifest) as fallback when it cannot be read; when the two disagree
LIVE wins (publish writes it first). An operator's ``POST /admin/reload {"version": v}`` pins
``v`` until the next publish (the pointer moves or a publish is announced); a reload without a
version returns to following at once. A change is noticed by a message on
``tandem:index:events`` or, when pub/sub is unavailable or silent, by polling every
``reload_poll_s``. Only a published version is loaded
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

from core.artifacts import ArtifactStore, LocalArtifactStore, check_version_name
from core.index import IndexLoadError, read_live_version
from core.index.fetch import materialise_version, prune_cache, read_pointer
from core.index.trust import check_published
from core.redis_clients import deadline
from online.index_state import IndexHolder, IndexState, load_state
from online.metrics import ServiceMetrics
from online.periodic import cancel_and_wait
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
    pinned: bool = False


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
        # (chosen version, live version when chosen): an operator's reload to a version holds
        # until the live pointer moves or a publish is announced; then following resumes
        self._pin: tuple[str, str | None] | None = None
        self._disagreement: tuple[str, str] | None = None

    async def live_version(self) -> str | None:
        """The version the pointer names. ``LIVE`` (the file, or the remote store's pointer) is
        the truth: publish replaces it first and writes Redis after, so when the two disagree
        (publish killed between them, Redis restored from an old dump) LIVE wins and the
        disagreement is logged; the Redis manifest serves only when LIVE cannot be read."""
        pointer = await self._pointer_version()
        from_redis = await self._redis_version()
        if pointer is not None and from_redis is not None and pointer != from_redis:
            if self._disagreement != (pointer, from_redis):
                log.warning(
                    "live pointer disagreement: LIVE names %s, Redis %s; following LIVE "
                    "(re-run `tandem index publish %s` to repair Redis)",
                    pointer,
                    from_redis,
                    pointer,
                )
            self._disagreement = (pointer, from_redis)
        return pointer or from_redis

    async def _redis_version(self) -> str | None:
        if self.redis is None:
            return None
        try:
            async with deadline():
                raw = await self.redis.get(LIVE_MANIFEST_KEY)
            return IndexManifest.parse(raw).index_version if raw is not None else None
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("live pointer not readable from Redis: %s", exc)
        except SchemaError as exc:
            log.warning("live manifest in Redis unreadable: %s", exc)
        return None

    async def _pointer_version(self) -> str | None:
        if self.artifacts is not None:
            return await asyncio.to_thread(read_pointer, self.artifacts)
        return await asyncio.to_thread(read_live_version, self.settings.indexes_dir)

    @property
    def pinned(self) -> str | None:
        """The version an operator chose with ``reload(version)``, until the next publish."""
        return self._pin[0] if self._pin else None

    async def reload(self, version: str | None = None, *, force: bool = False) -> ReloadOutcome:
        """Load ``version`` and swap it in, pinned until the next publish; with no version,
        unpin and load the live one. Serialised with the follower."""
        async with self._lock:
            live = await self.live_version()
            outcome = await self._swap_to(
                version or live, force=force, chosen=version is not None, operator=True
            )
            if version is None or version == live:
                self._set_pin(None)
            elif outcome.error is None:
                self._set_pin((version, live))
            if outcome.error is None:  # an operator's reload that worked: any failure is history
                self.holder.succeeded(chosen=True)
            return ReloadOutcome(
                outcome.version, outcome.swapped, outcome.error, self.pinned is not None
            )

    async def follow(self) -> ReloadOutcome:
        """The follower's step: load the live version, unless an operator's pin still holds."""
        async with self._lock:
            live = await self.live_version()
            if self._pin is not None:
                if live == self._pin[1]:
                    return ReloadOutcome(self._pin[0], False, pinned=True)
                log.info("live pointer moved to %s: the pin on %s ends", live, self._pin[0])
                self._set_pin(None)
            return await self._swap_to(live, force=False, chosen=False)

    def _set_pin(self, pin: tuple[str, str | None] | None) -> None:
        self._pin = pin
        self.holder.pinned = pin[0] if pin else None

    async def _swap_to(
        self, target: str | None, *, force: bool, chosen: bool, operator: bool = False
    ) -> ReloadOutcome:
        """``operator``: an ``/admin/reload`` (a version that failed is loaded again, not
        skipped; the follower leaves a failed version alone until it changes)."""
        current = self.holder.current
        if target is None:
            return ReloadOutcome(None, False, "no live version is published")
        failed = target in self._failed
        if current is not None and current.version == target and not force and not failed:
            self.holder.succeeded(chosen=chosen)  # already served: the reload succeeded
            return ReloadOutcome(target, False)
        if failed and not force and not (chosen or operator):
            return ReloadOutcome(target, False, self.holder.last_error)
        try:
            state = await asyncio.to_thread(self._load, target)
        except IndexLoadError as exc:
            return self._fail(target, str(exc), chosen=chosen)
        except Exception as exc:  # a broken version must never take the service down
            log.exception("unexpected error loading index %s", target)
            return self._fail(target, f"{type(exc).__name__}: {exc}", chosen=chosen)
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

    def _fail(self, version: str, error: str, *, chosen: bool = False) -> ReloadOutcome:
        self._failed.add(version)
        self.holder.failed(version, error, chosen=chosen)
        if self.metrics:
            self.metrics.index_failures.inc()
        return ReloadOutcome(version, False, error)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="index-follower")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
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
                            if self._pin is not None:  # a publish ends an operator's pin
                                log.info("%s was published: the pin ends", published)
                                self._set_pin(None)
                    else:
                        await asyncio.sleep(poll)
                    await self._safe_reload()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.info("index events unavailable (%s); polling every %.1fs", exc, poll)
                await asyncio.sleep(poll)
                await self._safe_reload()
            except Exception:  # nothing may end the follower silently: log, wait, go on
                log.exception("index follower error; resubscribing in %.1fs", poll)
                await asyncio.sleep(poll)
                await self._safe_reload()
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    async def _safe_reload(self) -> None:
        try:
            await self.follow()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("index reload check failed")


def _version_of(msg: Any) -> str | None:
    """The version an index event names; None (with a warning) for one that names none: a
    malformed message on the channel is dropped, it never stops the follower."""
    if not msg or msg.get("type") != "message":
        return None
    data = msg.get("data")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
        return check_version_name(text.strip())
    except (UnicodeDecodeError, ValueError):
        log.warning("index event ignored: not a version name (%r)", repr(data)[:80])
        return None
