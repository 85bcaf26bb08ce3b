"""The offline side's one settings object (env prefix ``TANDEM_``).

Sections are nested models read with ``__``: ``TANDEM_FRESHNESS__INTERVAL_MIN``,
``TANDEM_ALERTS__WEBHOOK_URL``. The module imports only pydantic, so DAG files read it at parse
time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared_schemas.config import CommonSettings

# Section prefixes before the sections were nested (single underscore) and now.
RENAMED_PREFIXES = {"TANDEM_FRESHNESS_": "TANDEM_FRESHNESS__", "TANDEM_ALERT_": "TANDEM_ALERTS__"}


class FreshnessConfig(BaseModel):
    """Schedule and thresholds of the freshness job; a threshold left unset is not checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_min: int = Field(default=15, ge=1, le=1440, description="Minutes between checks.")
    max_index_age_h: float | None = Field(
        default=36.0, gt=0, description="Alert when the live index's data is older (hours)."
    )
    max_new_documents: int | None = Field(
        default=None, ge=0, description="Alert when more documents are new or changed."
    )
    max_unindexed_chunks: int | None = Field(
        default=None, ge=0, description="Alert when more snapshot chunks are not in the index."
    )
    min_hot_cache_coverage: float | None = Field(
        default=None, ge=0, le=1, description="Alert below this share of hot questions cached."
    )
    max_stale_cache_entries: int | None = Field(
        default=None, ge=0, description="Alert when more cache entries key an older version."
    )
    max_dag_success_age_h: float | None = Field(
        default=48.0, gt=0, description="Alert when a DAG has not succeeded for longer (hours)."
    )
    hot_window_h: float = Field(
        default=24.0, gt=0, description="Query-log window of hot questions (hours)."
    )
    namespace: str = Field(default="default", description="Cache namespace checked for coverage.")
    history_days: float = Field(
        default=30.0, gt=0, description="Days the figures of each check time are kept in Redis."
    )


class AlertConfig(BaseModel):
    """Where DAG failure and deadline alerts go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook_url: str | None = Field(
        default=None, description="URL alerts are POSTed to as JSON; unset: alerts are only logged."
    )
    timeout_s: float = Field(default=5.0, gt=0, description="Webhook request timeout (seconds).")


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
        default=0.5,
        ge=0,
        le=1,
        description="Publish is refused below this recall@5 (labelled sets without a reference).",
    )
    gate_tolerance: float = Field(
        default=0.02, ge=0, le=1, description="Allowed recall@5 drop against the live version."
    )
    gate_answers: int = Field(
        default=20,
        ge=0,
        le=10_000,
        description="Generated answers the gate scores (held-out half, seeded); 0: no answer gate.",
    )
    keep_versions: int = Field(default=5, ge=2, description="Index versions kept on disk.")
    hot_top_k: int = Field(default=100, gt=0, description="Hot questions precomputed per date.")
    cache_ttl_s: int = Field(default=7 * 86400, gt=0, description="TTL of precomputed answers.")
    warm_paraphrases: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Paraphrases the deep model writes of each hot question it warms; those the "
        "pair judge accepts become aliases of the answer (0: none; off by default: 3 found 2 "
        "more of 88 human paraphrases, not a significant gain, at 4.2 s a question: "
        "bench/bench_expansion.py).",
    )
    # --- orchestration (the Airflow DAGs) ---
    index_source: Path | None = Field(
        default=None,
        description="Source the index DAG ingests (folder, JSONL, SQuAD); default: demo corpus.",
    )
    labelled_set: Path | None = Field(
        default=None, description="Labelled questions for the gate; default: a SQuAD source."
    )
    embed_mode: Literal["inprocess", "spark_submit"] = Field(
        default="inprocess",
        description="inprocess: a Python task runs Spark; spark_submit: SparkSubmitOperator.",
    )
    spark_conn_id: str = Field(default="spark_default", description="Connection for spark-submit.")
    index_deadline_h: float = Field(
        default=6.0,
        ge=0,
        description="Deadline alert when an index run is not done this long after queued; 0: off.",
    )
    dag_retries: int = Field(default=2, ge=0, description="Retries of every DAG task.")
    dag_retry_delay_s: float = Field(
        default=300.0, ge=0, description="Delay between retries (seconds)."
    )
    freshness: FreshnessConfig = Field(
        default_factory=FreshnessConfig, description="Freshness job schedule and thresholds."
    )
    alerts: AlertConfig = Field(default_factory=AlertConfig, description="Alert webhook.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> BatchSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self

    @model_validator(mode="after")
    def _no_renamed_variables(self) -> BatchSettings:
        """Refuse the old section names, which would otherwise be ignored without a word."""
        renamed = sorted(
            name
            for name in (n.upper() for n in os.environ)
            for old, new in RENAMED_PREFIXES.items()
            if name.startswith(old) and not name.startswith(new)
        )
        if renamed:
            hints = ", ".join(
                f"{n} -> {n.replace(old, new, 1)}"
                for n in renamed
                for old, new in RENAMED_PREFIXES.items()
                if n.startswith(old)
            )
            raise ValueError(f"renamed environment variables: {hints}")
        return self


@lru_cache
def get_settings() -> BatchSettings:
    return BatchSettings()
