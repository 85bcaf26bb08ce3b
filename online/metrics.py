"""Prometheus metrics of one service instance (own registry, so apps in tests never collide)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "tandem_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "tandem_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            buckets=_LATENCY,
            registry=r,
        )
        self.answers = Counter(
            "tandem_answers_total",
            "Answers by cache outcome, variant and status",
            ["cache", "variant", "status", "index_version"],
            registry=r,
        )
        self.answers_by_tier = Counter(
            "tandem_answers_by_tier_total",
            "Answers by cache outcome and the model tier that produced them (fast: live, "
            "deep: warmed or refined offline)",
            ["cache", "tier"],
            registry=r,
        )
        self.judgments = Counter(
            "tandem_judge_pairs_total",
            "Borderline misses by what became of them: queued for the pair judge, or seen "
            "(queued before); share of traffic: against tandem_answers_total",
            ["outcome"],
            registry=r,
        )
        self.cache_unavailable = Counter(
            "tandem_cache_unavailable_total",
            "Cache operations that failed because Redis was unavailable",
            ["operation"],
            registry=r,
        )
        self.local_answers = Counter(
            "tandem_local_answers_total",
            "Exact lookups while Redis was unavailable: answered from this replica's own copy "
            "(served) or not (absent: none, or older than TANDEM_LOCAL_HOT_MAX_AGE_S)",
            ["outcome"],
            registry=r,
        )
        self.stage = Histogram(
            "tandem_stage_seconds",
            "Time of an answer stage (embed, search, generate)",
            ["stage"],
            buckets=_LATENCY,
            registry=r,
        )
        self.ttft = Histogram(
            "tandem_llm_time_to_first_token_seconds",
            "LLM time to first token",
            buckets=_LATENCY,
            registry=r,
        )
        self.tokens_per_s = Histogram(
            "tandem_llm_tokens_per_second",
            "LLM generation speed",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
        self.tokens = Counter("tandem_llm_tokens_total", "Generated tokens", registry=r)
        self.rejected = Counter(
            "tandem_generation_rejected_total", "Generations refused (queue full)", registry=r
        )
        self.rate_limit = Gauge(
            "tandem_rate_limit",
            "Rate limits in force by default (rate_per_s, burst; bucket all: enabled, api_keys)",
            ["bucket", "figure"],
            registry=r,
        )
        self.rate_limit_decisions = Counter(
            "tandem_rate_limit_decisions_total",
            "Rate-limit decisions by bucket, client kind (key/address) and outcome",
            ["bucket", "client", "outcome"],
            registry=r,
        )
        self.rate_limit_errors = Counter(
            "tandem_rate_limit_errors_total",
            "Limiter decisions taken on the replica alone because Redis did not answer",
            registry=r,
        )
        self.index_info = Gauge(
            "tandem_index_info", "Live index version (value 1)", ["version"], registry=r
        )
        self.index_age = Gauge(
            "tandem_index_age_seconds", "Seconds since the live index was built", registry=r
        )
        self.index_swaps = Counter("tandem_index_swaps_total", "Index swaps", registry=r)
        self.index_failures = Counter(
            "tandem_index_load_failures_total", "Index versions that failed to load", registry=r
        )
        self.redis_up = Gauge("tandem_redis_up", "1 when Redis answered last check", registry=r)
        self.freshness = Gauge(
            "tandem_freshness", "Staleness figures from tandem:freshness", ["figure"], registry=r
        )
        self.querylog_dropped = Counter(
            "tandem_querylog_dropped_total", "Query-log events dropped", registry=r
        )
        self.in_flight = Gauge(
            "tandem_requests_in_flight", "HTTP requests being served now", registry=r
        )
        self.canary_rollbacks = Counter(
            "tandem_canary_rollbacks_total",
            "Canary variants whose weight was set to 0 by the automatic rollback rule",
            ["variant", "reason"],
            registry=r,
        )
        self.variant_weight = Gauge(
            "tandem_variant_weight", "Weight of each variant in force", ["variant"], registry=r
        )
        self.variant_fallbacks = Counter(
            "tandem_variant_fallbacks_total",
            "Variants serving without a setting of theirs (LLM not built, pinned index not "
            "loaded, unknown prompt)",
            ["variant", "what"],
            registry=r,
        )

        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, values: tuple[str, ...]) -> Any:
        """``metric.labels(*values)``, memoised (labels() costs microseconds on the hot path)."""
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def request_children(self, route: str, method: str, status: str) -> tuple[Any, Any]:
        key = (route, method, status)
        return self._child(self.requests, key), self._child(self.latency, key)

    def answer_counter(self, cache: str, variant: str, status: str, index_version: str) -> Any:
        return self._child(self.answers, (cache, variant, status, index_version))

    def tier_counter(self, cache: str, tier: str) -> Any:
        return self._child(self.answers_by_tier, (cache, tier))

    def set_index(self, version: str | None, age_s: float | None) -> None:
        self.index_info.clear()
        if version is not None:
            self.index_info.labels(version=version).set(1)
        if age_s is not None:
            self.index_age.set(age_s)

    def set_freshness(self, figures: dict[str, float]) -> None:
        for name, value in figures.items():
            self.freshness.labels(figure=name).set(value)

    def observe_generation(self, ttft_s: float, tokens: int, total_s: float) -> None:
        self.ttft.observe(ttft_s)
        if tokens:
            self.tokens.inc(tokens)
            if total_s > 0:
                self.tokens_per_s.observe(tokens / total_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)
