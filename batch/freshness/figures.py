"""Computing the freshness figures from the data dir and Redis at a given ``now``.

The live version's manifest is read as an :class:`~shared_schemas.manifest.IndexManifest`; the
day of its data is the date of its source snapshot, else the build date in its version name.
Heavy libraries (pyarrow, redis, the index package) are imported inside functions.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch.freshness._clock import aware, hours
from batch.freshness.report import FreshnessError, FreshnessReport, check_thresholds
from batch.freshness.store import connection, dag_success_ages, write_figures
from shared_schemas.layout import ANSWER_PREFIX, IDMAP_FILE, parse_cache_key

if TYPE_CHECKING:
    from redis import Redis

    from batch.settings import BatchSettings, FreshnessConfig
    from shared_schemas.manifest import IndexManifest

log = logging.getLogger(__name__)

CACHE_PATTERN = f"{ANSWER_PREFIX}:*"
# Snapshot names are dates (``YYYY-MM-DD``), not index versions: they keep their own pattern.
_SNAPSHOT_DAY = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


# --- reading the data dir -------------------------------------------------------------------


def _read_manifest(version_dir: Path) -> IndexManifest:
    from core.index import IndexLoadError, read_manifest

    try:
        return read_manifest(version_dir)
    except IndexLoadError as exc:
        raise FreshnessError(str(exc)) from exc


def snapshot_day(name: str) -> date | None:
    """The date a snapshot name (or a manifest's ``source_snapshot``) spells, if any."""
    m = _SNAPSHOT_DAY.search(name)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _data_day(source_snapshot: str, version: str) -> date | None:
    """The day of a version's data: its source snapshot's date, else its version's build date."""
    from core.index.version import IndexVersion

    parsed = IndexVersion.try_parse(version)
    return snapshot_day(source_snapshot) or (parsed.day if parsed is not None else None)


def data_time_of(manifest: IndexManifest) -> datetime:
    """When the live version's data ends: the end of its snapshot's day (its data interval)."""
    day = _data_day(manifest.source_snapshot, manifest.index_version)
    if day is not None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return aware(manifest.build_finished_at)


def newest_snapshot(snapshots_dir: Path, *, not_after: date) -> Path | None:
    dated = []
    if snapshots_dir.is_dir():
        for d in snapshots_dir.iterdir():
            day = snapshot_day(d.name) if d.is_dir() else None
            if day is not None and day <= not_after and (d / "chunks.parquet").exists():
                dated.append((day, d))
    return max(dated)[1] if dated else None


def _columns(path: Path, columns: list[str]) -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    if not path.exists():
        return {c: [] for c in columns}
    table = pq.read_table(path, columns=columns)
    return {c: table.column(c).to_pylist() for c in columns}


# --- reading the query log and the cache ----------------------------------------------------


def _hot_question_hashes(client: Redis, *, start: datetime, end: datetime, top_k: int) -> list[str]:
    """Question-key hashes of the ``top_k`` most asked questions logged in ``[start, end)``."""
    from batch.query_log import iter_events_between, top_questions
    from shared_schemas.hashing import question_key_hash

    events = iter_events_between(client, int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    return [question_key_hash(h.question) for h in top_questions(events, top_k)]


def _cache_versions(client: Redis, namespace: str) -> tuple[Counter[str], dict[str, set[str]]]:
    """Entry counts per index version, and the question hashes cached per version."""
    per_version: Counter[str] = Counter()
    questions: dict[str, set[str]] = {}
    for raw in client.scan_iter(match=CACHE_PATTERN, count=1000):
        parts = parse_cache_key(raw)
        if parts is None:
            continue
        version = parts["index_version"]
        per_version[version] += 1
        if parts["namespace"] == namespace:
            questions.setdefault(version, set()).add(parts["question_hash"])
    return per_version, questions


# --- the figures ----------------------------------------------------------------------------


def compute_freshness(
    *,
    settings: BatchSettings,
    now: datetime,
    thresholds: FreshnessConfig | None = None,
    client: Redis | None = None,
    store: bool = True,
) -> FreshnessReport:
    """Compute the freshness figures at ``now``, list breached thresholds, store them in Redis
    (under ``now``, and as the current figures unless newer ones are stored)."""
    thresholds = thresholds or settings.freshness
    now = aware(now).astimezone(UTC)
    figures: dict[str, Any] = {"computed_at": now}

    from core.index import read_live_version

    live = read_live_version(settings.indexes_dir)
    index_ids: set[str] = set()
    index_docs: set[str] = set()
    live_docs: set[tuple[str, str]] | None = None
    if live is not None:
        version_dir = settings.indexes_dir / live
        manifest = _read_manifest(version_dir)
        figures["live_version"] = live
        figures["live_index_age_h"] = round(max(0.0, hours(now - data_time_of(manifest))), 3)
        ids = _columns(version_dir / IDMAP_FILE, ["chunk_id", "doc_id"])
        index_ids, index_docs = set(ids["chunk_id"]), set(ids["doc_id"])
        snap_day = _data_day(manifest.source_snapshot, live)
        if snap_day is not None:
            figures["live_snapshot"] = snap_day.isoformat()
            live_snap = settings.snapshots_dir / snap_day.isoformat() / "documents.parquet"
            if live_snap.exists():
                cols = _columns(live_snap, ["doc_id", "content_hash"])
                live_docs = set(zip(cols["doc_id"], cols["content_hash"], strict=True))

    snap = newest_snapshot(settings.snapshots_dir, not_after=now.date())
    if snap is not None:
        figures["newest_snapshot"] = snap.name
        chunks = _columns(snap / "chunks.parquet", ["chunk_id", "doc_id"])
        snap_ids = set(chunks["chunk_id"])
        missing = [
            (c, d)
            for c, d in zip(chunks["chunk_id"], chunks["doc_id"], strict=True)
            if c not in index_ids
        ]
        figures["unindexed_chunks"] = len(missing)
        figures["changed_chunks"] = sum(1 for _, d in missing if d in index_docs)
        figures["removed_chunks"] = len(index_ids - snap_ids) if index_ids else 0
        docs = _columns(snap / "documents.parquet", ["doc_id", "content_hash"])
        pairs = set(zip(docs["doc_id"], docs["content_hash"], strict=True))
        if live_docs is not None:
            figures["new_documents"] = len(pairs - live_docs)
        else:
            figures["new_documents"] = sum(1 for d, _ in pairs if d not in index_docs)

    from redis.exceptions import RedisError

    try:
        with connection(settings, client) as conn:
            top_k = settings.hot_top_k
            hot = _hot_question_hashes(
                conn, start=now - timedelta(hours=thresholds.hot_window_h), end=now, top_k=top_k
            )
            per_version, cached = _cache_versions(conn, thresholds.namespace)
            covered = cached.get(live, set()) if live else set()
            figures["hot_questions"] = len(hot)
            figures["hot_cached"] = sum(1 for q in hot if q in covered)
            if hot and live:
                figures["hot_cache_coverage"] = round(figures["hot_cached"] / len(hot), 4)
            figures["live_cache_entries"] = per_version.get(live, 0) if live else 0
            figures["stale_cache_entries"] = sum(n for v, n in per_version.items() if v != live)
            figures["dag_success_age_h"] = dag_success_ages(conn, now)
            report = FreshnessReport(**figures)
            report = report.model_copy(
                update={"breaches": tuple(b.message for b in check_thresholds(report, thresholds))}
            )
            if store:
                write_figures(conn, report, keep_days=thresholds.history_days)
    except (RedisError, OSError) as exc:
        raise FreshnessError(f"Redis at {settings.redis_url} failed: {exc}") from exc
    log.info(
        "freshness live=%s age_h=%s new_docs=%s unindexed=%s coverage=%s stale=%s breaches=%s",
        report.live_version,
        report.live_index_age_h,
        report.new_documents,
        report.unindexed_chunks,
        report.hot_cache_coverage,
        report.stale_cache_entries,
        len(report.breaches),
    )
    return report
