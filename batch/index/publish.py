"""Publish, roll back and list index versions.

Publishing is one pointer swap: the version name is checked (``core.index.trust``: the one
``IndexVersion`` parser, a directory inside ``indexes/``), the version directory is verified
(every sha256, the model, FAISS and id map readable), its manifest digest is recorded in
``indexes/.published/<version>.sha256`` (the service serves nothing else), ``indexes/LIVE`` is
replaced atomically (temporary file + ``os.replace``), then the move is appended to
``indexes/HISTORY`` (so a publish that dies before the swap never marks its version as having
been live). Only then is Redis told
(``SET tandem:index:live <manifest>`` and ``PUBLISH tandem:index:events <version>``); when Redis
is down the pointer has still moved, a warning is logged and ``PublishOutcome.redis_ok`` is
False (online replicas also poll the LIVE file). A failure at any step before the replace
leaves the previous live version serving and untouched; version directories are never modified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch.index import PublishError, store
from batch.index.lifecycle import IndexLifecycle, LocalIndexLifecycle, open_lifecycle
from batch.redis_client import connect
from core.index import IndexLoadError, load_index
from core.index.trust import version_dir
from shared_schemas.layout import LIVE_CHANNEL, LIVE_MANIFEST_KEY
from shared_schemas.manifest import IndexManifest

if TYPE_CHECKING:
    from batch.settings import BatchSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionInfo:
    version: str
    built_at: datetime
    vector_count: int
    faiss_factory: str
    live: bool
    previous: bool
    recall_at_5: float | None
    gate_passed: bool | None
    path: Path


@dataclass(frozen=True)
class PublishOutcome:
    manifest: IndexManifest
    previous: str | None
    redis_ok: bool
    removed: tuple[str, ...] = ()


def _verify(settings: BatchSettings, version: str) -> IndexManifest:
    try:
        vdir = version_dir(settings.indexes_dir, version)
    except IndexLoadError as exc:
        raise PublishError(f"refusing to publish: {exc}") from exc
    if not vdir.is_dir():
        raise PublishError(f"index version {version} does not exist under {settings.indexes_dir}")
    try:
        index = load_index(vdir, expected_model=settings.embedding_model, verify=True)
    except IndexLoadError as exc:
        raise PublishError(f"refusing to publish {version}: {exc}") from exc
    return index.manifest


def notify_redis(manifest: IndexManifest, *, settings: BatchSettings, client: Any = None) -> bool:
    """Write the live manifest to Redis and announce it; False (with a warning) on failure."""
    import redis

    own = client is None
    try:
        if own:
            client = connect(settings)
        # the manifest first, then the announcement (a replica woken by it reads the manifest)
        client.set(LIVE_MANIFEST_KEY, manifest.dumps())
        client.publish(LIVE_CHANNEL, manifest.index_version)
        return True
    except (redis.RedisError, OSError) as exc:
        log.warning(
            "live pointer moved to %s but Redis was not updated (%s); replicas will pick it "
            "up from the LIVE file or a re-run of publish",
            manifest.index_version,
            exc,
        )
        return False
    finally:
        if own and client is not None:
            client.close()


def _previous_of(lifecycle: IndexLifecycle, live: str) -> str | None:
    """The version that was live before ``live`` was last published."""
    for entry in reversed(lifecycle.history()):
        if entry.action == "publish" and entry.version == live:
            return entry.previous
    return None


def publish_version(
    version: str,
    *,
    settings: BatchSettings,
    force: bool = False,
    redis_client: Any = None,
    lifecycle: IndexLifecycle | None = None,
) -> PublishOutcome:
    """Make ``version`` live. Refused when its gate failed, unless ``force``."""
    manifest = _verify(settings, version)
    if manifest.quality.gate_passed is False and not force:
        raise PublishError(
            f"version {version} failed its quality gate ({manifest.quality.gate_reason}); "
            "use --force to publish anyway"
        )
    if manifest.quality.gate_passed is None:
        log.warning("publishing %s, which has not been through the quality gate", version)
    lifecycle = lifecycle or open_lifecycle(settings)
    lifecycle.stage(version)  # uploaded and verified before any pointer moves
    previous = lifecycle.live()
    lifecycle.record_published(version)  # what the service checks before serving it
    lifecycle.move_live("publish", version, previous)
    redis_ok = notify_redis(manifest, settings=settings, client=redis_client)
    removed = apply_retention(settings=settings, lifecycle=lifecycle)
    return PublishOutcome(manifest, previous, redis_ok, removed)


def rollback_version(
    *, settings: BatchSettings, redis_client: Any = None, lifecycle: IndexLifecycle | None = None
) -> PublishOutcome:
    """Move the live pointer back to the version that was live before the current one."""
    lifecycle = lifecycle or open_lifecycle(settings)
    live = lifecycle.live()
    if live is None:
        raise PublishError("nothing is live, nothing to roll back")
    target = _previous_of(lifecycle, live)
    if target is None:
        raise PublishError(f"no version was live before {live}; nothing to roll back to")
    manifest = _verify(settings, target)
    lifecycle.require(target)
    lifecycle.record_published(target)
    lifecycle.move_live("rollback", target, live)
    redis_ok = notify_redis(manifest, settings=settings, client=redis_client)
    return PublishOutcome(manifest, live, redis_ok)


def _protected(lifecycle: IndexLifecycle) -> set[str]:
    live = lifecycle.live()
    keep: set[str] = set()
    if live:
        keep.add(live)
        prev = _previous_of(lifecycle, live)
        if prev:
            keep.add(prev)
    history = lifecycle.history()
    if history:  # the version being rolled back from stays until a new publish
        last = history[-1]
        keep.update(v for v in (last.version, last.previous) if v)
    return keep


def apply_retention(
    *, settings: BatchSettings, lifecycle: IndexLifecycle | None = None
) -> tuple[str, ...]:
    """Delete all but the newest ``keep_versions`` versions (live and previous always stay)."""
    lifecycle = lifecycle or open_lifecycle(settings)
    infos = list_versions(settings=settings, lifecycle=lifecycle)
    keep = _protected(lifecycle)
    newest = sorted(infos, key=lambda i: (i.built_at, i.version), reverse=True)
    keep.update(i.version for i in newest[: settings.keep_versions])
    removed = tuple(i.version for i in infos if i.version not in keep)
    lifecycle.retire(removed)
    return removed


def list_versions(
    *, settings: BatchSettings, lifecycle: IndexLifecycle | None = None
) -> list[VersionInfo]:
    """Every complete version on disk, oldest first, with live/previous flags and quality."""
    indexes_dir = settings.indexes_dir
    lifecycle = lifecycle or LocalIndexLifecycle(indexes_dir)  # live and HISTORY are local
    live = lifecycle.live()
    prev = _previous_of(lifecycle, live) if live else None
    out: list[VersionInfo] = []
    for vdir in store.version_dirs(indexes_dir):
        try:
            m = store.load_manifest(indexes_dir, vdir.name)
        except IndexLoadError as exc:
            log.warning("skipping unreadable version dir %s: %s", vdir, exc)
            continue
        out.append(
            VersionInfo(
                version=vdir.name,
                built_at=m.build_finished_at,
                vector_count=m.vector_count,
                faiss_factory=m.faiss_factory,
                live=vdir.name == live,
                previous=vdir.name == prev,
                recall_at_5=m.quality.recall_at_5,
                gate_passed=m.quality.gate_passed,
                path=vdir,
            )
        )
    out.sort(key=lambda i: (i.built_at, i.version))
    return out
