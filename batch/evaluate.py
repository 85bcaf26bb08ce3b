"""Retrieval quality of an index version on a labelled set: recall@1/5/10 and MRR.

Evaluation is at document level: the chunk hits of a question are mapped to their document
ids, each document keeping its best rank, and a question counts as found at rank r when one of
its relevant documents is the r-th distinct document. MRR is computed over the first
``EVAL_DEPTH`` documents (0 when no relevant document is among them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from batch.errors import BatchError
from batch.labelled import LabelledQuestion, read_labelled
from core.index import LoadedIndex, load_index, read_live_version
from shared_schemas.hashing import embedding_text
from shared_schemas.manifest import QualityMetrics

if TYPE_CHECKING:
    from batch.settings import BatchSettings
    from core.encoder import TextEncoder

log = logging.getLogger(__name__)

EVAL_DEPTH = 20  # distinct documents ranked per question
CHUNK_DEPTH = 100  # chunks retrieved per question before the document mapping
PROGRESS_EVERY_S = 5.0  # a progress line at most this often on a long evaluation


class EvalError(BatchError, RuntimeError):
    """An evaluation could not run (no live version, unreadable labelled set …)."""


@dataclass(frozen=True)
class EvalResult:
    version: str
    labelled_set: str
    questions: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr: float
    lexical: bool = True
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The ``tandem eval --json`` object."""
        return {
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4),
            "recall@10": round(self.recall_at_10, 4),
            "mrr": round(self.mrr, 4),
            "questions": self.questions,
            "version": self.version,
            "labelled_set": self.labelled_set,
            "lexical": self.lexical,
            "seconds": round(self.seconds, 2),
        }

    def to_quality(
        self, *, gate_passed: bool | None = None, gate_reason: str = ""
    ) -> QualityMetrics:
        return QualityMetrics(
            recall_at_1=self.recall_at_1,
            recall_at_5=self.recall_at_5,
            recall_at_10=self.recall_at_10,
            mrr=self.mrr,
            questions=self.questions,
            labelled_set=self.labelled_set,
            gate_passed=gate_passed,
            gate_reason=gate_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def first_relevant_rank(doc_ids: list[str], relevant: frozenset[str], depth: int) -> int | None:
    """1-based rank of the first relevant document among distinct doc ids, or None."""
    seen: set[str] = set()
    for doc_id in doc_ids:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        if doc_id in relevant:
            return len(seen)
        if len(seen) >= depth:
            break
    return None


def score_ranks(ranks: list[int | None]) -> tuple[float, float, float, float]:
    """recall@1, recall@5, recall@10 and MRR from per-question first-relevant ranks."""
    n = len(ranks)
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0
    arr = np.array([r if r is not None else 0 for r in ranks], dtype=np.int64)
    found = arr > 0

    def recall(k: int) -> float:
        return float(np.mean(found & (arr <= k)))

    mrr = float(np.sum(1.0 / arr[found]) / n) if found.any() else 0.0
    return recall(1), recall(5), recall(10), mrr


def evaluate_index(
    index: LoadedIndex,
    questions: list[LabelledQuestion],
    encoder: TextEncoder,
    *,
    labelled_set: str = "",
    lexical: bool = True,
    batch_size: int = 128,
) -> EvalResult:
    """Evaluate one loaded index on labelled questions (questions encoded in batches)."""
    t0 = last = time.perf_counter()
    ranks: list[int | None] = []
    for start in range(0, len(questions), 1024):
        block = questions[start : start + 1024]
        vecs = encoder.encode([embedding_text(q.question) for q in block], batch_size=batch_size)
        for q, vec in zip(block, vecs, strict=True):
            hits = index.search(vec, q.question, CHUNK_DEPTH, lexical=lexical)
            ranks.append(
                first_relevant_rank([h.doc_id for h in hits], q.relevant_doc_ids, EVAL_DEPTH)
            )
        if time.perf_counter() - last >= PROGRESS_EVERY_S and len(ranks) < len(questions):
            last = time.perf_counter()
            log.info("eval: questions %d/%d, %.0f s", len(ranks), len(questions), last - t0)
    r1, r5, r10, mrr = score_ranks(ranks)
    result = EvalResult(
        version=index.version,
        labelled_set=labelled_set,
        questions=len(questions),
        recall_at_1=r1,
        recall_at_5=r5,
        recall_at_10=r10,
        mrr=mrr,
        lexical=lexical and index.has_lexical,
        seconds=time.perf_counter() - t0,
    )
    log.info(
        "evaluated version=%s questions=%d r@1=%.4f r@5=%.4f r@10=%.4f mrr=%.4f",
        result.version,
        result.questions,
        r1,
        r5,
        r10,
        mrr,
    )
    return result


def resolve_version(version: str | None, *, settings: BatchSettings) -> str:
    if version is not None:
        return version
    live = read_live_version(settings.indexes_dir)
    if live is None:
        raise EvalError(
            f"no live index under {settings.indexes_dir}; publish one or pass --version"
        )
    return live


def evaluate(
    labelled: Path,
    *,
    settings: BatchSettings,
    version: str | None = None,
    lexical: bool = True,
    encoder: TextEncoder | None = None,
) -> EvalResult:
    """Recall@1/5/10 and MRR of a version (default: the live one) on a labelled set."""
    from batch.labelled import LabelledSetError
    from core.encoder import encoder_for

    name = resolve_version(version, settings=settings)
    version_dir = settings.indexes_dir / name
    if not version_dir.is_dir():
        raise EvalError(f"index version {name} does not exist under {settings.indexes_dir}")
    try:
        questions = read_labelled(Path(labelled))
    except LabelledSetError as exc:
        raise EvalError(str(exc)) from exc
    index = load_index(version_dir, expected_model=settings.embedding_model)
    enc = encoder or encoder_for(settings)
    return evaluate_index(
        index,
        questions,
        enc,
        labelled_set=Path(labelled).name,
        lexical=lexical,
        batch_size=max(settings.embed_batch_size, 128),
    )
