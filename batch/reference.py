"""Reference quality figures, measured and stored in the repository (``reference_figures.json``).

The gate's floors come from these: a measured figure minus its stated tolerance (retrieval:
recall and MRR 0.01 absolute; answers: 2 F1 points and 2 EM points). They apply to the labelled
set they were measured on, recognised by the sha256 of its (un-gzipped) bytes, and to answers
only for the same prompt version, LLM and question sample. A labelled set with no reference
keeps the configured floor (``TANDEM_GATE_RECALL5_FLOOR``). The figures and the commands that
measured them are in bench/README.md ("Quality reference").
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch.corpus import read_bytes

REFERENCE_FILE = Path(__file__).with_name("reference_figures.json")
RETRIEVAL_METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr")
ANSWER_METRICS = ("f1", "exact_match")


@dataclass(frozen=True)
class References:
    tolerance: dict[str, float]
    datasets: dict[str, str]  # sha256 of the labelled set's bytes -> dataset name
    retrieval: dict[str, dict[str, float]]  # dataset -> figures
    answers: tuple[dict[str, Any], ...]

    def floor(self, metric: str, measured: float) -> float:
        return measured - self.tolerance[metric]


@functools.cache
def load_references(path: Path = REFERENCE_FILE) -> References:
    data = json.loads(path.read_text(encoding="utf-8"))
    return References(
        tolerance={k: float(v) for k, v in data["tolerance"].items()},
        datasets={str(d["sha256"]): str(d["name"]) for d in data["datasets"]},
        retrieval={
            str(r["dataset"]): {m: float(r[m]) for m in RETRIEVAL_METRICS}
            for r in data["retrieval"]
        },
        answers=tuple(data["answers"]),
    )


@functools.cache
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(read_bytes(path)).hexdigest()


def dataset_of(labelled: Path, refs: References | None = None) -> str | None:
    """The reference dataset ``labelled`` is (by content), or None."""
    refs = refs or load_references()
    try:
        st = Path(labelled).stat()
        digest = _digest(Path(labelled).resolve(), st.st_mtime_ns, st.st_size)
    except OSError:
        return None
    return refs.datasets.get(digest)


def retrieval_floors(labelled: Path, refs: References | None = None) -> dict[str, float]:
    """metric -> floor for ``labelled`` (empty when no reference covers it)."""
    refs = refs or load_references()
    dataset = dataset_of(labelled, refs)
    figures = refs.retrieval.get(dataset or "")
    if not figures:
        return {}
    return {m: round(refs.floor(m, v), 4) for m, v in figures.items()}


def answer_reference(
    labelled: Path,
    *,
    prompt_version: str,
    llm_model: str,
    questions: int,
    seed: int,
    half: str,
    llm_engine: str = "",
    refs: References | None = None,
) -> dict[str, Any] | None:
    """The stored answer figures measured on exactly this sample and configuration, if any
    (a record naming the backend class that generated, ``llm_engine``, needs the same one:
    the same GGUF gives other answers through llama.cpp than through transformers)."""
    refs = refs or load_references()
    dataset = dataset_of(labelled, refs)
    if dataset is None:
        return None
    for rec in refs.answers:
        if (
            rec["dataset"] == dataset
            and rec["prompt_version"] == prompt_version
            and rec["llm_model"] == llm_model
            and int(rec["questions"]) == questions
            and int(rec["seed"]) == seed
            and str(rec.get("half", "")) == half
            and rec.get("llm_engine", llm_engine) == llm_engine
        ):
            return rec
    return None


def below_floors(
    measured: dict[str, float], reference: dict[str, float], tolerance: dict[str, float]
) -> list[str]:
    """A line for each metric more than its tolerance under the reference (empty: all pass)."""
    out = []
    for metric, ref in reference.items():
        if metric not in measured or metric not in tolerance:
            continue
        floor = ref - tolerance[metric]
        if measured[metric] < floor - 1e-9:
            out.append(
                f"{metric} {measured[metric]:.4f} is under {floor:.4f} "
                f"(reference {ref:.4f} - tolerance {tolerance[metric]:g})"
            )
    return out
