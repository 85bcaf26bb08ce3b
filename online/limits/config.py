"""Settings of the limits: the buckets, their defaults, and the API keys (hashes only)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Bucket = Literal["requests", "generations", "refines"]
BUCKETS: tuple[Bucket, ...] = ("requests", "generations", "refines")


class RateLimit(BaseModel):
    """A GCRA limit: ``rate_per_s`` on average, up to ``burst`` at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_per_s: float = Field(gt=0, description="Sustained rate allowed.")
    burst: int = Field(ge=1, description="Requests allowed at once after a quiet spell.")


class RateLimits(BaseModel):
    """Per client (API key, else client address): every ``/v1`` request, cache hits included;
    live generations (a cache miss that reaches the LLM); refinement jobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Off: nothing is limited.")
    requests: RateLimit = Field(
        default=RateLimit(rate_per_s=20, burst=50),
        description="Every /v1 request, cache hits included; set as "
        "TANDEM_RATE_LIMITS__REQUESTS__RATE_PER_S and __BURST.",
    )
    generations: RateLimit = Field(
        default=RateLimit(rate_per_s=0.5, burst=10),
        description="Live generations (cache misses reaching the LLM); set as "
        "TANDEM_RATE_LIMITS__GENERATIONS__RATE_PER_S and __BURST.",
    )
    refines: RateLimit = Field(
        default=RateLimit(rate_per_s=0.1, burst=5),
        description="Refinement jobs queued; set as "
        "TANDEM_RATE_LIMITS__REFINES__RATE_PER_S and __BURST.",
    )

    def of(self, bucket: Bucket) -> RateLimit:
        limit: RateLimit = getattr(self, bucket)
        return limit


class ApiKey(BaseModel):
    """One API key: the sha256 of the secret (never the secret), whose it is, and its limits
    where they differ from the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 hex of the key.")
    tenant: str = Field(min_length=1, max_length=200, description="Tenant the key belongs to.")
    user_id: str | None = Field(default=None, max_length=200, description="User, if one.")
    requests: RateLimit | None = None
    generations: RateLimit | None = None
    refines: RateLimit | None = None

    @property
    def subject(self) -> str:
        """The limiter's bucket owner for this key."""
        return "key:" + self.sha256[:16]

    def limit(self, bucket: Bucket, defaults: RateLimits) -> RateLimit:
        own: RateLimit | None = getattr(self, bucket)
        return own if own is not None else defaults.of(bucket)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_api_keys(value: Any) -> Any:
    """``TANDEM_API_KEYS`` as JSON text (a list of key objects) or as already parsed."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return json.loads(value) if value.strip() else ()
    return value
