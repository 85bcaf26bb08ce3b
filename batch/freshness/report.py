"""The freshness contract: the figures (:class:`FreshnessReport`), their thresholds, the errors.

``check_thresholds`` lists the :class:`Breach` es of a report; ``enforce`` turns them into a
:class:`FreshnessBreach` whose message names each figure and its threshold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from batch.errors import BatchError

if TYPE_CHECKING:
    from batch.settings import FreshnessConfig


class FreshnessError(BatchError, RuntimeError):
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


class NoIndexPublished(FreshnessError):
    """No index version has been published yet: there is no live index to measure."""

    def __init__(self) -> None:
        super().__init__("no index published yet: freshness is measured from the first publish")


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
