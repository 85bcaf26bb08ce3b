"""The run report of one ingest: what was read, written and skipped (and why)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MAX_EXAMPLES = 5

# Reasons a single document is skipped (the run goes on).
SKIP_UNDECODABLE = "undecodable"
SKIP_EMPTY = "empty"
SKIP_TOO_LARGE = "too_large"
SKIP_INVALID_RECORD = "invalid_record"
SKIP_DUPLICATE_ID = "duplicate_id"
SKIP_UNSUPPORTED_TYPE = "unsupported_type"
SKIP_UNREADABLE = "unreadable"


class IngestReport(BaseModel):
    """Counts of one ingest run; written as ``report.json`` beside the snapshot."""

    model_config = ConfigDict(extra="forbid")

    run_date: date
    source: str = Field(description="Name of the source file or folder (not its full path).")
    source_kind: str = Field(description="folder, jsonl or squad.")
    documents_read: int = 0
    documents_written: int = 0
    chunks_written: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    skipped_examples: dict[str, list[str]] = Field(
        default_factory=dict, description=f"Up to {MAX_EXAMPLES} places per reason."
    )
    chunk_tokens: int
    chunk_overlap: int
    snapshot_path: Path | None = None

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "none"
        return (
            f"{self.run_date}: {self.documents_written}/{self.documents_read} documents, "
            f"{self.chunks_written} chunks, skipped: {skipped} -> {self.snapshot_path}"
        )

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        examples = self.skipped_examples.setdefault(reason, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(where)
