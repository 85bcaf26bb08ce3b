"""Settings of the refinement path (proposed additions to ``OnlineSettings``)."""

from __future__ import annotations

from pydantic import Field

from online.settings import OnlineSettings


class RefineSettings(OnlineSettings):
    refine_top_k: int = Field(default=10, ge=1, le=50, description="Chunks a refined answer uses.")
    refine_max_new_tokens: int = Field(
        default=192, gt=0, le=2048, description="Length cap of a refined answer."
    )
    refine_context_chars: int = Field(
        default=1500, gt=0, description="Characters of each chunk put in the refined prompt."
    )
    refine_llm_url: str | None = Field(
        default=None,
        description="OpenAI-compatible URL of the large model; unset: the service's own backend.",
    )
    refine_claim_idle_s: float = Field(
        default=60.0, gt=0, description="Pending jobs idle this long are reclaimed by a worker."
    )
    refine_job_ttl_s: int = Field(default=86_400, gt=0, description="How long job status is kept.")
    refined_cache_ttl_s: int = Field(
        default=86_400, ge=0, description="TTL of refined answers written to the cache."
    )
    refine_stream_maxlen: int = Field(default=10_000, gt=0, description="Refine stream bound.")
