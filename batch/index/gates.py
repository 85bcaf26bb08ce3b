"""What a candidate version must pass before it is published, and when a publish would roll the
live version back: one home for the DAG's gate and publish steps and ``tandem index publish``
(issue 25: the CLI ran the retrieval gate only and had no date guard).

- :func:`run_gates`: the retrieval gate (recall against the labelled set), then, with
  ``TANDEM_GATE_ANSWERS`` > 0 and a labelled set with gold answers (SQuAD), the answer gate
  (generated answers against the live version's, paired bootstrap);
- :func:`later_live`: the live version when it is of a later date than the candidate: a
  backfill never rolls the live version back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batch.index.answer_gate import check_answer_gate
from batch.index.gate import check_gate

if TYPE_CHECKING:
    from batch.settings import BatchSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatesOutcome:
    version: str
    passed: bool
    #: why, in one line (the refusing gate's reason when refused)
    reason: str
    #: the answer gate's reason when it ran
    answers: str | None = None


def is_squad_source(source: Path) -> bool:
    """True when ingest reads ``source`` as SQuAD (``.json``/``.json.gz``, not JSONL)."""
    from batch.ingest import IngestError
    from batch.ingest.sources import detect_kind

    if not source.is_file():
        return False
    try:
        return detect_kind(source) == "squad"
    except IngestError:
        return False


def run_gates(version: str, *, settings: BatchSettings, labelled: Path) -> GatesOutcome:
    """Both gates on ``version``, the answer gate only after the retrieval gate passed; each
    records its figures in the version's manifest."""
    decision = check_gate(version, settings=settings, labelled=labelled)
    if not decision.passed:
        return GatesOutcome(version, False, f"quality gate refused {version}: {decision.reason}")
    if settings.gate_answers <= 0:
        return GatesOutcome(version, True, decision.reason)
    if not is_squad_source(labelled):
        log.warning("answer gate skipped: labelled set %s has no gold answers", labelled)
        return GatesOutcome(version, True, decision.reason)
    answers = check_answer_gate(version, settings=settings, labelled=labelled)
    if not answers.passed:
        return GatesOutcome(
            version, False, f"answer gate refused {version}: {answers.reason}", answers.reason
        )
    return GatesOutcome(version, True, decision.reason, answers.reason)


def later_live(version: str, *, settings: BatchSettings) -> str | None:
    """The live version if it is of a later date than ``version`` (``YYYYMMDD-<digest>``)."""
    from core.index import read_live_version

    live = read_live_version(settings.indexes_dir)
    if live is not None and _version_date(live) > _version_date(version):
        return live
    return None


def _version_date(version: str) -> str:
    return version.split("-", 1)[0]
