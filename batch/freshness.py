"""Freshness: how stale the live index and the hot-answer cache are, and whether that is too stale.

``compute_freshness`` reads the data dir and Redis at a given ``now`` (the DAG passes its data
interval end, never the wall clock), stores the figures in the Redis hash ``tandem:freshness``
(read by ``tandem status`` and the online ``/metrics``) and lists the thresholds it breaches.
``enforce`` turns breaches into a :class:`FreshnessBreach` whose message names each figure and
its threshold. The schedule and thresholds are ``BatchSettings.freshness``
(``TANDEM_FRESHNESS__*``). Heavy libraries (pyarrow, redis) are imported inside functions.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared_schemas.layout import (
    FRESHNESS_KEY,
    IDMAP_FILE,
    MANIFEST_FILE,
    REDIS_PREFIX,
    parse_cache_key,
)

if TYPE_CHECKING:
    from redis import Redis

    from batch.settings import BatchSettings, FreshnessConfig

log = logging.getLogger(__name__)

DAG_SUCCESS_KEY = f"{REDIS_PREFIX}:dag:last_success"  # hash: dag_id -> ISO time of last success
CACHE_PATTERN = f"{REDIS_PREFIX}:ans:*"
_DATE_IN = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


class FreshnessError(RuntimeError):
    """The freshness figures could not be computed (unreadable manifest, Redis down)."""


@dataclass(frozen=True)
class Breach:
    figure: str
    value: float | str | None
    threshold: float
    above: bool  # True: the value must stay at or below the threshold

    @property
    def message(self) -> str:
        if self.value is None:
            return f"{self.figure} is unknown (no live index); threshold {self.threshold}"
        word = "exceeds threshold" if self.above else "is below threshold"
        return f"{self.figure}={self.value} {word} {self.threshold}"


class FreshnessBreach(FreshnessError):
    """One or more freshness thresholds are breached; the message names figures and thresholds."""

    def __init__(self, breaches: Iterable[str]) -> None:
        self.breaches = tuple(breaches)
        super().__init__("freshness thresholds breached: " + "; ".join(self.breaches))


class FreshnessReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    computed_at: datetime
    live_version: str | None = None
    live_snapshot: str | None = None
    live_index_age_h: float | None = None
    newest_snapshot: str | None = None
    new_documents: int = 0
    unindexed_chunks: int = 0
    changed_chunks: int = 0
    removed_chunks: int = 0
    hot_questions: int = 0
    hot_cached: int = 0
    hot_cache_coverage: float | None = None
    live_cache_entries: int = 0
    stale_cache_entries: int = 0
    dag_success_age_h: dict[str, float] = Field(default_factory=dict)
    breaches: tuple[str, ...] = ()

    def to_redis(self) -> dict[str, str]:
        """Flat string fields for the ``tandem:freshness`` hash (empty string: unknown)."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if name == "dag_success_age_h":
                for dag_id, age in value.items():
                    out[f"dag_success_age_h:{dag_id}"] = str(age)
            elif name == "breaches":
                out[name] = json.dumps(value)
            else:
                out[name] = "" if value is None else str(value)
        return out


# --- reading the data dir -------------------------------------------------------------------


def _read_manifest(version_dir: Path) -> dict[str, Any]:
    path = version_dir / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FreshnessError(f"cannot read manifest {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FreshnessError(f"manifest {path} is not a JSON object")
    return data


def _date_in(text: str) -> date | None:
    m = _DATE_IN.search(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def data_time_of(manifest: dict[str, Any]) -> datetime | None:
    """When the live version's data ends: the end of its snapshot's day (its data interval)."""
    for text in (str(manifest.get("source_snapshot") or ""), str(manifest["index_version"])):
        day = _date_in(text)
        if day is not None:
            return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    finished = manifest.get("build_finished_at")
    return _aware(datetime.fromisoformat(finished)) if finished else None


def newest_snapshot(snapshots_dir: Path, *, not_after: date) -> Path | None:
    dated = []
    if snapshots_dir.is_dir():
        for d in snapshots_dir.iterdir():
            day = _date_in(d.name) if d.is_dir() else None
            if day is not None and day <= not_after and (d / "chunks.parquet").exists():
                dated.append((day, d))
    return max(dated)[1] if dated else None


def _columns(path: Path, columns: list[str]) -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    if not path.exists():
        return {c: [] for c in columns}
    table = pq.read_table(path, columns=columns)
    return {c: table.column(c).to_pylist() for c in columns}


# --- Redis ----------------------------------------------------------------------------------


def _client(settings: BatchSettings) -> Redis:
    import redis

    return redis.Redis.from_url(settings.redis_url)


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


def _dag_success_ages(raw: dict[Any, Any], now: datetime) -> dict[str, float]:
    """Hours since each DAG's last success; an unparseable time is skipped with a warning."""
    ages: dict[str, float] = {}
    for dag, ts in raw.items():
        try:
            at = _aware(datetime.fromisoformat(_s(ts)))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            log.warning(
                "last-success time of dag %s unreadable, skipped: %r (%s)", _s(dag), ts, exc
            )
            continue
        ages[_s(dag)] = round(max(0.0, _hours(now - at)), 3)
    return ages


def record_dag_success(
    dag_id: str, at: datetime, *, settings: BatchSettings, client: Redis | None = None
) -> str:
    """Record ``at`` as the DAG's last success unless a later one is recorded; returns the kept."""
    own = client is None
    client = client or _client(settings)
    try:
        current = client.hget(DAG_SUCCESS_KEY, dag_id)
        stamp = _aware(at).isoformat()
        if current is not None:
            kept = current.decode() if isinstance(current, bytes) else str(current)
            try:
                if _aware(datetime.fromisoformat(kept)) >= _aware(at):
                    return kept
            except ValueError:
                log.warning("unreadable last success of dag %s replaced: %r", dag_id, kept)
        client.hset(DAG_SUCCESS_KEY, dag_id, stamp)
        return stamp
    finally:
        if own:
            client.close()


def read_freshness(*, settings: BatchSettings, client: Redis | None = None) -> dict[str, str]:
    """The stored figures (empty when the job never ran)."""
    own = client is None
    client = client or _client(settings)
    try:
        raw = client.hgetall(FRESHNESS_KEY)
    finally:
        if own:
            client.close()
    return {_s(k): _s(v) for k, v in raw.items()}


# --- the figures ----------------------------------------------------------------------------


def compute_freshness(
    *,
    settings: BatchSettings,
    now: datetime,
    thresholds: FreshnessConfig | None = None,
    client: Redis | None = None,
    store: bool = True,
) -> FreshnessReport:
    """Compute the freshness figures at ``now``, list breached thresholds, store them in Redis."""
    thresholds = thresholds or settings.freshness
    now = _aware(now)
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
        data_time = data_time_of(manifest)
        if data_time is not None:
            figures["live_index_age_h"] = round(max(0.0, _hours(now - data_time)), 3)
        ids = _columns(version_dir / IDMAP_FILE, ["chunk_id", "doc_id"])
        index_ids, index_docs = set(ids["chunk_id"]), set(ids["doc_id"])
        snap_day = _date_in(str(manifest.get("source_snapshot") or "")) or _date_in(live)
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

    own = client is None
    client = client or _client(settings)
    try:
        top_k = settings.hot_top_k
        hot = _hot_question_hashes(
            client, start=now - timedelta(hours=thresholds.hot_window_h), end=now, top_k=top_k
        )
        per_version, cached = _cache_versions(client, thresholds.namespace)
        covered = cached.get(live, set()) if live else set()
        figures["hot_questions"] = len(hot)
        figures["hot_cached"] = sum(1 for q in hot if q in covered)
        if hot and live:
            figures["hot_cache_coverage"] = round(figures["hot_cached"] / len(hot), 4)
        figures["live_cache_entries"] = per_version.get(live, 0) if live else 0
        figures["stale_cache_entries"] = sum(n for v, n in per_version.items() if v != live)
        figures["dag_success_age_h"] = _dag_success_ages(client.hgetall(DAG_SUCCESS_KEY), now)
        report = FreshnessReport(**figures)
        report = report.model_copy(
            update={"breaches": tuple(b.message for b in check_thresholds(report, thresholds))}
        )
        if store:
            pipe = client.pipeline()
            pipe.delete(FRESHNESS_KEY)
            pipe.hset(FRESHNESS_KEY, mapping=report.to_redis())  # type: ignore[arg-type]
            pipe.execute()
    except (RedisError, OSError) as exc:
        raise FreshnessError(f"Redis at {settings.redis_url} failed: {exc}") from exc
    finally:
        if own:
            client.close()
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


def check_thresholds(report: FreshnessReport, thresholds: FreshnessConfig) -> list[Breach]:
    """The thresholds ``report`` breaches, each naming its figure (unset thresholds skipped)."""
    out: list[Breach] = []

    def above(figure: str, value: float | None, limit: float | None) -> None:
        if limit is not None and (value is None or value > limit):
            out.append(Breach(figure, value, limit, above=True))

    above("live_index_age_h", report.live_index_age_h, thresholds.max_index_age_h)
    above("new_documents", report.new_documents, thresholds.max_new_documents)
    above("unindexed_chunks", report.unindexed_chunks, thresholds.max_unindexed_chunks)
    above("stale_cache_entries", report.stale_cache_entries, thresholds.max_stale_cache_entries)
    for dag_id, age in sorted(report.dag_success_age_h.items()):
        above(f"dag_success_age_h:{dag_id}", age, thresholds.max_dag_success_age_h)
    floor = thresholds.min_hot_cache_coverage
    cov = report.hot_cache_coverage
    if floor is not None and cov is not None and cov < floor:
        out.append(Breach("hot_cache_coverage", cov, floor, above=False))
    return out


def enforce(report: FreshnessReport) -> None:
    """Raise :class:`FreshnessBreach` naming every breached figure and threshold."""
    if report.breaches:
        raise FreshnessBreach(report.breaches)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
