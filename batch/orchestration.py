"""Glue between the Airflow DAGs and the batch functions: one function per DAG task.

Each step takes plain strings (``ds``, versions, paths from DAG params), calls the batch
function the CLI also calls, and returns a small JSON-able dict for XCom. Nothing here imports
Airflow; heavy modules are imported inside the steps, so DAG files may import this module at
parse time. How the DAGs run (retries, deadline, embed mode, source) is read from
``batch.settings.get_settings()`` like everything else.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch.errors import BatchError

if TYPE_CHECKING:
    from batch.settings import BatchSettings

log = logging.getLogger(__name__)


class OrchestrationError(BatchError, RuntimeError):
    """A DAG step cannot run as configured (no source, no labelled set, gate refused)."""


class StepSkipped(RuntimeError):
    """The step has nothing to do yet (no index published); the DAG task reports a skip.

    The message is for the Airflow UI: it names DAGs, params and tasks, not CLI flags."""


NO_INDEX_FOR_WARM = (
    "no index published yet: tandem_hot_answers warms the live index once a tandem_index run "
    "has published one (to warm a particular version, trigger with the param 'version')"
)
NO_INDEX_FOR_FRESHNESS = (
    "no index published yet: tandem_freshness measures the live index from the first "
    "successful publish task of tandem_index"
)


#: identity of the Asset the index DAG's publish task updates and the hot-answers DAG waits on
LIVE_INDEX_ASSET_NAME = "tandem_live_index"
LIVE_INDEX_ASSET_URI = "tandem://index/live"


def alert_on_failure(context: dict[str, Any]) -> None:
    """Every DAG's ``on_failure_callback`` (imports the webhook poster only when it fires)."""
    from batch.alerts import on_failure_callback

    on_failure_callback(context)


def dag_default_args(settings: BatchSettings) -> dict[str, Any]:
    """The ``default_args`` every Tandem DAG shares: owner, retries, failure alert."""
    from datetime import timedelta

    return {
        "owner": "tandem",
        "retries": settings.dag_retries,
        "retry_delay": timedelta(seconds=settings.dag_retry_delay_s),
        "on_failure_callback": alert_on_failure,
    }


def spark_job_path() -> Path:
    """The file SparkSubmitOperator submits (``batch/embed/spark_job.py``)."""
    return Path(__file__).resolve().parent / "embed" / "spark_job.py"


def parse_ds(ds: str) -> date:
    try:
        return date.fromisoformat(ds[:10])
    except ValueError as exc:
        raise OrchestrationError(f"not a YYYY-MM-DD date: {ds!r}") from exc


def run_date_of(logical_date: datetime | None, run_after: datetime | None) -> date:
    """A run's date: its logical date, else when it ran (asset runs have no logical date)."""
    when = logical_date or run_after
    if when is None:
        raise OrchestrationError("a DAG run has neither a logical date nor a run_after time")
    return when.astimezone(UTC).date() if when.tzinfo else when.date()


def _settings() -> BatchSettings:
    from batch.settings import get_settings

    return get_settings()


def resolve_source(param: str | None, *, settings: BatchSettings) -> Path:
    """The source to ingest: DAG param, else ``TANDEM_INDEX_SOURCE``, else the demo corpus."""
    if param:
        return Path(param)
    configured = settings.index_source
    if configured is not None:
        return configured
    from batch.corpus import locate_demo_corpus

    return locate_demo_corpus(settings.demo_corpus, data_dir=settings.data_dir)


def resolve_labelled(param: str | None, *, source: Path, settings: BatchSettings) -> Path:
    """The gate's labelled set: DAG param, else ``TANDEM_LABELLED_SET``, else a SQuAD source."""
    if param:
        return Path(param)
    configured = settings.labelled_set
    if configured is not None:
        return configured
    from batch.index.gates import is_squad_source

    if is_squad_source(source):
        return source
    raise OrchestrationError(
        f"no labelled set for the gate: source {source} is not SQuAD; "
        "set the DAG param 'labelled' or TANDEM_LABELLED_SET"
    )


# --- tandem_index -----------------------------------------------------------------------------


def ingest_step(ds: str, source: str | None = None) -> dict[str, Any]:
    from batch.ingest.run import ingest

    settings = _settings()
    path = resolve_source(source, settings=settings)
    report = ingest(path, run_date=parse_ds(ds), settings=settings)
    return {"source": str(path), **_dump(report)}


def embed_step(ds: str) -> dict[str, Any]:
    from batch.embed.run import embed_snapshot

    return _dump(embed_snapshot(parse_ds(ds), settings=_settings()))


def build_step(ds: str) -> str:
    """Build (or find, on a re-run) the index version of ``ds``; returns the version name."""
    from batch.index.build import build_index

    manifest = build_index(parse_ds(ds), settings=_settings())
    return manifest.index_version


def gate_step(version: str, *, source: str | None = None, labelled: str | None = None) -> dict:
    """Evaluate ``version`` (``batch.index.gates``, as ``tandem index publish`` does); raise
    :class:`OrchestrationError` when a gate refuses it."""
    from batch.index.gates import run_gates

    settings = _settings()
    labelled_path = resolve_labelled(
        labelled, source=resolve_source(source, settings=settings), settings=settings
    )
    outcome = run_gates(version, settings=settings, labelled=labelled_path)
    if not outcome.passed:
        raise OrchestrationError(outcome.reason)
    out: dict[str, Any] = {"version": version, "passed": True, "reason": outcome.reason}
    if outcome.answers is not None:
        out["answers"] = outcome.answers
    return out


def warm_step(
    ds: str,
    version: str | None = None,
    questions_file: str | None = None,
    top_k: str | int | None = None,
) -> dict:
    """Precompute the hot answers of ``ds`` for ``version`` (default: the live one); raise
    :class:`StepSkipped` when no version is named and none has been published yet."""
    from batch.hot_answers import NoIndexToWarm, warm_cache

    try:
        report = warm_cache(
            settings=_settings(),
            run_date=parse_ds(ds),
            questions_file=Path(questions_file) if questions_file else None,
            version=version or None,
            top_k=_optional_int(top_k, "top_k"),
        )
    except NoIndexToWarm as exc:
        raise StepSkipped(NO_INDEX_FOR_WARM) from exc
    return _dump(report)


def _optional_int(value: str | int | None, name: str) -> int | None:
    """A DAG param rendered into a template: '' or 'None' mean unset."""
    if value is None or isinstance(value, int):
        return value
    text = value.strip()
    if text in ("", "None"):
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise OrchestrationError(
            f"the param {name!r} must be a whole number, got {value!r}"
        ) from exc


def publish_step(version: str) -> dict[str, Any]:
    """Publish ``version`` unless the live version is of a later date (backfills never roll
    back). Publishing the live version again re-notifies Redis. Raises
    :class:`OrchestrationError` when Redis was not updated, so Airflow retries the task."""
    from batch.index.gates import later_live
    from batch.index.publish import publish_version

    settings = _settings()
    live = later_live(version, settings=settings)
    if live is not None:
        log.info("publish skipped version=%s live=%s (a later date)", version, live)
        return {"version": version, "published": False, "live": live}
    outcome = publish_version(version, settings=settings)
    if not outcome.redis_ok:
        raise OrchestrationError(
            f"{version} is live on disk but Redis was not updated; retry to notify replicas"
        )
    return {
        "version": outcome.manifest.index_version,
        "published": True,
        "moved": outcome.previous != version,
        "live": outcome.manifest.index_version,
    }


# --- every DAG ----------------------------------------------------------------------------------


def record_success_step(dag_id: str, at: str) -> str:
    """Record the DAG run's time as its last success (never moves back); the kept ISO time."""
    from batch.freshness import record_dag_success

    return record_dag_success(dag_id, _parse_time(at), settings=_settings())


def freshness_step(now: str) -> dict[str, Any]:
    """Compute and store the freshness figures at ``now``; raise :class:`StepSkipped` while no
    index has been published, FreshnessBreach on a breach."""
    from batch.freshness import compute_freshness, enforce

    report = compute_freshness(settings=_settings(), now=_parse_time(now))
    if report.live_version is None:
        raise StepSkipped(NO_INDEX_FOR_FRESHNESS)
    enforce(report)
    return report.model_dump(mode="json")


def _parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise OrchestrationError(f"not an ISO time: {text!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _dump(report: Any) -> dict[str, Any]:
    """A JSON-able dict of a pydantic model or dataclass report (for XCom)."""
    import dataclasses
    import json

    dump = getattr(report, "model_dump", None)
    if callable(dump):
        out = dump(mode="json")
    elif dataclasses.is_dataclass(report) and not isinstance(report, type):
        out = json.loads(json.dumps(dataclasses.asdict(report), default=str))
    else:
        out = {"report": str(report)}
    return out if isinstance(out, dict) else {"report": out}
