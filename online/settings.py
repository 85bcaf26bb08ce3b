"""The online side's one settings object (env prefix ``TANDEM_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from core.cache.bounded import DEFAULT_CAPACITY
from online.experiments.canary import CanaryPolicy
from online.experiments.override import parse_override_keys
from online.experiments.variants import (
    Variant,
    check_variants,
    default_variants,
    parse_variants,
)
from online.limits.config import ApiKey, RateLimits, parse_api_keys
from shared_schemas.config import CommonSettings, secret_problem


class OnlineSettings(CommonSettings):
    host: str = Field(default="127.0.0.1", description="Address `tandem serve` binds.")
    port: int = Field(default=8000, gt=0, lt=65536, description="Port `tandem serve` binds.")
    max_question_chars: int = Field(default=2000, gt=0, description="Longer questions get 422.")
    max_body_bytes: int = Field(default=64_000, gt=0, description="Larger bodies get 413.")
    max_tokens_limit: int = Field(
        default=512,
        gt=0,
        le=4096,
        description="Largest max_tokens (max_completion_tokens) a chat request may ask for; "
        "more: 422. Unasked: TANDEM_MAX_NEW_TOKENS.",
    )
    hit_memo_entries: int = Field(
        default=16_384,
        ge=1,
        description="Cached answers kept decoded, with their sources resolved and rendered, in "
        "each replica, so a hit on one of them skips that work: about 10 KB each (measured: "
        "+102 MB of RSS for 10,529), ~160 MB when full.",
    )
    local_hot_capacity: int = Field(
        default=2000,
        ge=0,
        description="Answers each replica keeps in its own memory (the last it read from or "
        "wrote to Redis), served only while Redis is unavailable; 0: off.",
    )
    local_hot_max_age_s: float = Field(
        default=600.0,
        gt=0,
        description="The oldest such copy served while Redis is unavailable (the response's "
        "stale_s says its age).",
    )
    chat_system_chars: int = Field(
        default=4000,
        gt=0,
        description="Characters of a chat's system (developer) messages in all; more: 422.",
    )
    chat_history_chars: int = Field(
        default=4000,
        ge=0,
        description="Characters of earlier chat turns put in the prompt, the latest kept; "
        "older turns are left out.",
    )
    semantic_threshold: float = Field(
        default=0.85,
        ge=0,
        le=1,
        description="Cosine similarity a cached question needs to be a semantic-cache candidate.",
    )
    semantic_verifier: Literal["evidence", "signature"] = Field(
        default="evidence",
        description="How candidates are decided: evidence (hard checks, then cosine and "
        "IDF-weighted word evidence, core/matching/verifier.py) or signature (numbers, names, "
        "answer kind only).",
    )
    semantic_spelling: bool = Field(
        default=True,
        description="Put typing slips right before the question is embedded (the semantic "
        "lookup, retrieval and the judge read it; the exact key and the prompt keep the question "
        "as asked): a word the index's documents never use and the embedding model does not "
        "hold whole becomes a document word one slip away (core/matching/spelling.py).",
    )
    semantic_accept: float = Field(
        default=0.91, description="Evidence score a semantic hit needs (cosine - miss penalty)."
    )
    semantic_miss_weight: float = Field(
        default=0.1, ge=0, description="Penalty per unit of the rarest word only one side has."
    )
    semantic_overlap_weight: float = Field(
        default=0.0, ge=0, description="Bonus per unit of IDF-weighted content-word overlap."
    )
    generation_concurrency: int = Field(default=1, gt=0, description="Generations at once.")
    generation_queue: int = Field(default=8, ge=0, description="Waiting generations before 503.")
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for /admin (16+ characters, no placeholder); unset or empty: "
        "no admin routes.",
    )
    reload_poll_s: float = Field(default=5.0, gt=0, description="Live-pointer poll interval.")
    live_cache_ttl_s: int = Field(default=3600, ge=0, description="TTL of written-through answers.")
    cache_capacity: int = Field(
        default=DEFAULT_CAPACITY,
        ge=0,
        description="Answers (and question vectors) kept per cache scope; beyond it the least "
        "recently used is evicted (0: unbounded).",
    )
    cache_wait_s: float = Field(
        default=5.0,
        gt=0,
        description="How long a request waits for a slow cache lookup; past it: 503 with "
        "Retry-After (a Redis refusing connections is answered live).",
    )
    query_log_maxlen: int = Field(default=100_000, gt=0, description="Query-log stream bound.")
    redis_max_connections: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Connections to Redis per replica; more concurrent requests wait (up to "
        "1 s) for a free one instead of failing.",
    )
    judge_misses: bool = Field(
        default=False,
        description="Queue borderline misses (a cached question at or above TANDEM_JUDGE_FLOOR) "
        "for the pair judge (`tandem worker --judge`): a 'same' verdict makes the asked "
        "question an alias of the cached answer, so the next ask is a lookup.",
    )
    judge_floor: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Cosine from which a miss is a borderline one (queued for the judge). "
        "bench/pair_table.py measures the judge at this floor; at 0.8 the tune half's "
        "paraphrases found fell from 66.4% to 48.9% (p1 judge).",
    )
    judge_ttl_s: int = Field(
        default=86_400, gt=0, description="How long a pair's verdict (and an alias) is kept."
    )
    refine_live_misses: bool = Field(
        default=False,
        description="Queue every live answer (fast tier) for the deep tier: the refine worker's "
        "answer replaces the cached one under the same key; the response names the job.",
    )
    refine_top_k: int = Field(default=10, ge=1, le=50, description="Chunks a refined answer uses.")
    refine_max_new_tokens: int = Field(
        default=192, gt=0, le=2048, description="Length cap of a refined answer."
    )
    refine_context_chars: int = Field(
        default=1500, gt=0, description="Characters of each chunk put in the refined prompt."
    )
    refine_claim_idle_s: float = Field(
        default=60.0, gt=0, description="Pending jobs idle this long are reclaimed by a worker."
    )
    refine_job_ttl_s: int = Field(default=86_400, gt=0, description="How long job status is kept.")
    refined_cache_ttl_s: int = Field(
        default=86_400, ge=0, description="TTL of refined answers written to the cache."
    )
    refine_stream_maxlen: int = Field(default=10_000, gt=0, description="Refine stream bound.")
    variants: tuple[Variant, ...] = Field(
        default_factory=default_variants,
        description="A/B and canary arms as JSON: [{name, weight, index_version?, "
        "prompt_version?, llm_backend?, llm_model?, llm_url?, cache_namespace?, baseline?}]; "
        "default: one arm `default`.",
    )
    canary: CanaryPolicy = Field(
        default_factory=CanaryPolicy,
        description="Automatic canary rollback policy (TANDEM_CANARY__<FIELD>).",
    )
    rate_limits: RateLimits = Field(
        default_factory=RateLimits,
        description="Per-client rate limits (API key, else client address), GCRA in Redis: "
        "requests 20/s burst 50 (every /v1 call), generations 0.5/s burst 10 (live misses), "
        "refines 0.1/s burst 5; TANDEM_RATE_LIMITS__<BUCKET>__RATE_PER_S|BURST, "
        "TANDEM_RATE_LIMITS__ENABLED. Over a limit: 429 with Retry-After.",
    )
    api_keys: tuple[ApiKey, ...] = Field(
        default=(),
        description="API keys as JSON: [{sha256, tenant, user_id?, requests?, generations?, "
        "refines?}] (sha256 hex of the key, never the key; limits override the defaults). "
        "Sent as X-API-Key or Authorization: Bearer on /v1.",
    )
    api_keys_required: bool = Field(
        default=False, description="Refuse /v1 requests without a valid API key (401)."
    )
    variant_override_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Debug keys allowed to force a variant with X-Tandem-Variant, as sha256 hex "
        "digests (JSON list or comma-separated; never the keys), sent in X-Tandem-Debug-Key "
        "(the admin token works there too); none: the header is ignored.",
    )
    replica_id: str | None = Field(
        default=None,
        description="This replica's name in its heartbeat and metrics; unset: <host>-<pid>.",
    )
    heartbeat_s: float = Field(
        default=5.0, gt=0, description="How often a replica writes its heartbeat to Redis."
    )
    heartbeat_ttl_s: float = Field(
        default=15.0, gt=0, description="A replica silent this long drops out of `tandem status`."
    )
    experiment_sync_s: float = Field(
        default=1.0,
        gt=0,
        description="How often a replica reads the shared experiment state (weights, rollbacks) "
        "from Redis; a rollback on one replica is in force on all within it.",
    )
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A connection sends its request line and headers within this long (of "
        "opening, or of the request's first byte), or gets 408 and is closed (slowloris).",
    )
    http_body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A request's body arrives within this long of its headers, or the "
        "connection is closed.",
    )
    shutdown_drain_s: float = Field(
        default=2.0,
        ge=0,
        description="On SIGTERM, /readyz answers 503 (draining) and requests are still served "
        "this long before the listener closes, so balancers take the replica out first.",
    )
    shutdown_grace_s: float = Field(
        default=25.0,
        gt=0,
        description="Then requests in flight (streams too) get this long to finish.",
    )
    experiment_salt: SecretStr | None = Field(
        default=None,
        description="Secret salt of the sticky user_id -> variant hash, the same on every "
        "replica; required (a random one: openssl rand -hex 16) once there is more than one arm. "
        "With a public salt a client could compute which user_id lands in which arm.",
    )

    @field_validator("admin_token", mode="after")
    @classmethod
    def _refuse_placeholder_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None  # admin routes off
        problem = secret_problem(value.get_secret_value())
        if problem:
            raise ValueError(
                f"TANDEM_ADMIN_TOKEN {problem}; set a random one (openssl rand -hex 24)"
            )
        return value

    @field_validator("variants", mode="before")
    @classmethod
    def _parse_variants(cls, value: Any) -> Any:
        if isinstance(value, bytes):
            value = value.decode()
        return parse_variants(value) if isinstance(value, str) else value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: Any) -> Any:
        return parse_api_keys(value)

    @field_validator("variant_override_keys", mode="before")
    @classmethod
    def _parse_override_keys(cls, value: Any) -> Any:
        return parse_override_keys(value)

    @field_validator("variants", mode="after")
    @classmethod
    def _check_variants(cls, value: tuple[Variant, ...]) -> tuple[Variant, ...]:
        return check_variants(value)

    @model_validator(mode="after")
    def _experiments_need_a_secret_salt(self) -> OnlineSettings:
        if len(self.variants) < 2:
            return self
        if self.experiment_salt is None:
            raise ValueError(
                "TANDEM_VARIANTS declares an experiment: set TANDEM_EXPERIMENT_SALT to a random "
                "secret shared by the replicas (openssl rand -hex 16)"
            )
        problem = secret_problem(self.experiment_salt.get_secret_value())
        if problem:
            raise ValueError(f"TANDEM_EXPERIMENT_SALT {problem}; set a random one")
        return self

    @property
    def assignment_salt(self) -> str:
        """The salt the router hashes with (a single arm needs none)."""
        return self.experiment_salt.get_secret_value() if self.experiment_salt else "single-arm"


@lru_cache
def get_settings() -> OnlineSettings:
    return OnlineSettings()
