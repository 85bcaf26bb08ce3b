"""Canary verdict of a release from Prometheus: does the new track do as well as the live one?

Standard library only (the CD workflow runs it without the project installed):

    python docker/canary_check.py --prometheus http://prometheus:9090 --canary green \
        --baseline blue --window 10m

The same rule as the in-service guard (online/experiments/canary.py): the canary fails when its
error rate (5xx share of /v1/query) exceeds the baseline's by more than ``--error-margin``
(absolute) or its p95 latency exceeds the baseline's by more than ``--latency-margin``
(relative), once both tracks served ``--min-samples`` requests in the window. Too few requests
is its own verdict (exit 2): the pipeline waits or decides by hand. Exit 0 pass, 1 fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass

ROUTE = "/v1/query"


class PrometheusError(Exception):
    """Prometheus did not answer a query usefully."""


@dataclass(frozen=True)
class TrackFigures:
    track: str
    requests: float
    error_rate: float
    p95_s: float


def _selector(namespace: str, track: str) -> str:
    return f'namespace="{namespace}",route="{ROUTE}",track="{track}"'


def queries(namespace: str, track: str, window: str) -> dict[str, str]:
    sel = _selector(namespace, track)
    total = f"sum(increase(tandem_http_requests_total{{{sel}}}[{window}]))"
    errors = f'sum(increase(tandem_http_requests_total{{{sel},status=~"5.."}}[{window}]))'
    p95 = (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(tandem_http_request_duration_seconds_bucket{{{sel}}}[{window}])))"
    )
    return {"requests": total, "errors": errors, "p95_s": p95}


def instant(prometheus: str, query: str, *, timeout_s: float = 10.0) -> float:
    """Value of an instant query that returns one sample; 0 when it returns none."""
    url = f"{prometheus.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            body = json.loads(resp.read().decode())
    except (OSError, json.JSONDecodeError) as exc:
        raise PrometheusError(f"query failed: {query}: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusError(f"query failed: {query}: {body.get('error')}")
    result = body["data"]["result"]
    if not result:
        return 0.0
    value = float(result[0]["value"][1])
    return 0.0 if value != value else value  # NaN (no traffic) counts as 0


def figures(prometheus: str, namespace: str, track: str, window: str) -> TrackFigures:
    q = queries(namespace, track, window)
    total = instant(prometheus, q["requests"])
    errors = instant(prometheus, q["errors"])
    return TrackFigures(
        track=track,
        requests=total,
        error_rate=errors / total if total > 0 else 0.0,
        p95_s=instant(prometheus, q["p95_s"]),
    )


def verdict(
    canary: TrackFigures,
    baseline: TrackFigures,
    *,
    error_margin: float,
    latency_margin: float,
    min_samples: int,
) -> tuple[str, str]:
    """``("pass" | "fail" | "insufficient", reason)``."""
    if canary.requests < min_samples or baseline.requests < min_samples:
        return "insufficient", (
            f"need {min_samples} requests per track, have canary {canary.requests:.0f}, "
            f"baseline {baseline.requests:.0f}"
        )
    if canary.error_rate > baseline.error_rate + error_margin:
        return "fail", (
            f"error rate {canary.error_rate:.4f} > baseline {baseline.error_rate:.4f} "
            f"+ {error_margin}"
        )
    if canary.p95_s > baseline.p95_s * (1 + latency_margin):
        return "fail", (
            f"p95 {canary.p95_s * 1000:.0f} ms > baseline {baseline.p95_s * 1000:.0f} ms "
            f"x {1 + latency_margin}"
        )
    return "pass", "within margins"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Canary verdict of a blue-green release.")
    ap.add_argument("--prometheus", required=True, help="Prometheus base URL.")
    ap.add_argument("--canary", required=True, choices=["blue", "green"])
    ap.add_argument("--baseline", required=True, choices=["blue", "green"])
    ap.add_argument("--namespace", default="tandem")
    ap.add_argument("--window", default="10m", help="PromQL range, e.g. 10m.")
    ap.add_argument("--error-margin", type=float, default=0.02)
    ap.add_argument("--latency-margin", type=float, default=0.25)
    ap.add_argument("--min-samples", type=int, default=200)
    args = ap.parse_args(argv)
    if args.canary == args.baseline:
        ap.error("--canary and --baseline must differ")
    try:
        c = figures(args.prometheus, args.namespace, args.canary, args.window)
        b = figures(args.prometheus, args.namespace, args.baseline, args.window)
    except PrometheusError as exc:
        print(json.dumps({"verdict": "error", "reason": str(exc)}))
        return 2
    outcome, reason = verdict(
        c,
        b,
        error_margin=args.error_margin,
        latency_margin=args.latency_margin,
        min_samples=args.min_samples,
    )
    print(
        json.dumps(
            {"verdict": outcome, "reason": reason, "canary": asdict(c), "baseline": asdict(b)}
        )
    )
    return {"pass": 0, "fail": 1}.get(outcome, 2)


if __name__ == "__main__":
    sys.exit(main())
