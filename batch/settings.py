"""The offline side's one settings object (env prefix ``TANDEM_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from shared_schemas.config import CommonSettings


class BatchSettings(CommonSettings):
    demo_corpus: Path | None = Field(
        default=None,
        description="SQuAD JSON(.gz) for the demo; else ../shared/data, else download.",
    )
    spark_master: str = Field(default="local[*]", description="Spark master URL for the embed job.")
    spark_driver_memory: str = Field(default="4g", description="Spark driver memory.")
    chunk_tokens: int = Field(default=200, ge=16, le=256, description="Tokens per chunk.")
    chunk_overlap: int = Field(default=40, ge=0, description="Tokens shared by adjacent chunks.")
    max_doc_bytes: int = Field(default=2_000_000, gt=0, description="Larger documents are skipped.")
    embed_batch_size: int = Field(default=64, gt=0, description="Sentences per encode call.")
    exact_index_max: int = Field(
        default=200_000, gt=0, description="Up to this many vectors the index is exact (Flat)."
    )
    faiss_factory: str | None = Field(default=None, description="Override the FAISS factory.")
    gate_recall5_floor: float = Field(
        default=0.5, ge=0, le=1, description="Publish is refused below this recall@5."
    )
    gate_tolerance: float = Field(
        default=0.02, ge=0, le=1, description="Allowed recall@5 drop against the live version."
    )
    keep_versions: int = Field(default=5, ge=2, description="Index versions kept on disk.")
    hot_top_k: int = Field(default=100, gt=0, description="Hot questions precomputed per date.")
    cache_ttl_s: int = Field(default=7 * 86400, gt=0, description="TTL of precomputed answers.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> BatchSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self


@lru_cache
def get_settings() -> BatchSettings:
    return BatchSettings()
