"""The report of one embed run."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class EmbedReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_date: date
    model: str
    dimension: int = Field(default=0, description="Vector length in the store (0: empty).")
    device: str
    spark_master: str
    chunks_in_snapshot: int
    already_embedded: int
    embedded: int = Field(description="Chunks encoded by this run.")
    partitions: int = Field(default=0, description="Spark tasks the new chunks were split into.")
    part_files: list[str] = Field(default_factory=list)
    model_loads: dict[str, int] = Field(
        default_factory=dict, description="Per worker process: models loaded in its lifetime."
    )
    elapsed_s: float = 0.0
    encode_s: float = Field(default=0.0, description="Wall time of the Spark encode-and-write.")

    def summary(self) -> str:
        loads = sorted(set(self.model_loads.values()))
        return (
            f"{self.run_date}: {self.embedded} chunks embedded, {self.already_embedded} already "
            f"stored, of {self.chunks_in_snapshot}; model {self.model} on {self.device}, "
            f"{len(self.model_loads)} worker(s) loading it {loads or [0]} time(s); "
            f"{self.elapsed_s:.1f} s"
        )
