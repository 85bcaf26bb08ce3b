"""The quality gate: a version may go live only if its recall@5 is good enough.

Refused when recall@5 is under ``settings.gate_recall5_floor`` or more than
``settings.gate_tolerance`` under the live version's recall@5 on the same labelled set, or when
the labelled set has reference figures (:mod:`batch.reference`, measured and stored in the
repository) and any of recall@1/5/10 or MRR is more than its stated tolerance under them. The
figures and the decision are written into the candidate's manifest, which is allowed only while
the version has never been live (``manifest.json`` is not among the checksummed artifacts, so
the artifacts' sha256 stay verifiable; once published, nothing in the directory changes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batch.evaluate import EvalResult, evaluate
from batch.index import store
from batch.reference import below_floors, dataset_of, load_references
from core.index import read_live_version

if TYPE_CHECKING:
    from batch.settings import BatchSettings
    from core.encoder import Encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    version: str
    passed: bool
    reason: str
    result: EvalResult
    live_version: str | None = None
    live_recall_at_5: float | None = None
    recorded: bool = False  # figures written into the candidate's manifest


def decide(
    recall5: float,
    *,
    floor: float,
    tolerance: float,
    live_recall5: float | None,
) -> tuple[bool, str]:
    """The pure decision rule."""
    if recall5 < floor:
        return False, f"recall@5 {recall5:.4f} is under the floor {floor:.4f}"
    if live_recall5 is not None and recall5 < live_recall5 - tolerance:
        return False, (
            f"recall@5 {recall5:.4f} is more than {tolerance:.4f} under the live "
            f"version's {live_recall5:.4f}"
        )
    if live_recall5 is None:
        return True, f"recall@5 {recall5:.4f} >= floor {floor:.4f} (no live version to compare)"
    return True, (
        f"recall@5 {recall5:.4f} >= floor {floor:.4f} and within {tolerance:.4f} of "
        f"live {live_recall5:.4f}"
    )


def reference_failures(result: EvalResult, labelled: Path) -> list[str]:
    """The retrieval metrics more than their tolerance under the stored reference figures."""
    refs = load_references()
    reference = refs.retrieval.get(dataset_of(labelled, refs) or "")
    if not reference:
        return []
    measured = {
        "recall_at_1": result.recall_at_1,
        "recall_at_5": result.recall_at_5,
        "recall_at_10": result.recall_at_10,
        "mrr": result.mrr,
    }
    return below_floors(measured, reference, refs.tolerance)


def has_reference(labelled: Path) -> bool:
    """Whether stored reference figures exist for this labelled set (by content)."""
    refs = load_references()
    return bool(refs.retrieval.get(dataset_of(labelled, refs) or ""))


def _live_recall5(
    live: str, *, settings: BatchSettings, labelled: Path, questions: int, encoder: Encoder | None
) -> float | None:
    """The live version's recall@5 on this labelled set: from its manifest, else measured."""
    try:
        manifest = store.load_manifest(settings.indexes_dir, live)
    except Exception as exc:
        log.warning("live version %s unreadable, gate compares with the floor only: %s", live, exc)
        return None
    q = manifest.quality
    if q.recall_at_5 is not None and q.labelled_set == labelled.name and q.questions == questions:
        return q.recall_at_5
    result = evaluate(labelled, settings=settings, version=live, encoder=encoder)
    return result.recall_at_5


def check_gate(
    version: str,
    *,
    settings: BatchSettings,
    labelled: Path,
    encoder: Encoder | None = None,
) -> GateDecision:
    """Evaluate ``version`` on ``labelled``, compare with the floor and the live version."""
    labelled = Path(labelled)
    result = evaluate(labelled, settings=settings, version=version, encoder=encoder)
    live = read_live_version(settings.indexes_dir)
    live_r5: float | None = None
    if live is not None and live != version:
        live_r5 = _live_recall5(
            live,
            settings=settings,
            labelled=labelled,
            questions=result.questions,
            encoder=encoder,
        )
    passed, reason = decide(
        result.recall_at_5,
        floor=settings.gate_recall5_floor,
        tolerance=settings.gate_tolerance,
        live_recall5=live_r5,
    )
    refused = reference_failures(result, labelled)
    if passed and refused:
        passed, reason = False, "under the reference figures: " + "; ".join(refused)
    elif passed and has_reference(labelled):
        reason += "; within the reference figures' tolerance (batch/reference_figures.json)"
    recorded = False
    if version in store.ever_live(settings.indexes_dir):
        log.warning("version %s has been live; its manifest stays as published", version)
    else:
        manifest = store.load_manifest(settings.indexes_dir, version)
        quality = result.to_quality(gate_passed=passed, gate_reason=reason).model_copy(
            update={"answers": manifest.quality.answers}  # the answer gate's records stay
        )
        store.write_manifest(
            settings.indexes_dir / version, manifest.model_copy(update={"quality": quality})
        )
        recorded = True
    log.info("gate version=%s passed=%s reason=%s", version, passed, reason)
    return GateDecision(
        version=version,
        passed=passed,
        reason=reason,
        result=result,
        live_version=live,
        live_recall_at_5=live_r5,
        recorded=recorded,
    )
