"""Smoke check of a running online server: ready, answers a small sample within a latency budget.

Standard library only, so CI, compose and a Kubernetes Job can run it without the project:

    python docker/smoke.py --url http://127.0.0.1:8000 --budget-ms 8000

Waits for ``/readyz`` (the models are loaded and an index is live), then POSTs each sample
question to ``/v1/query`` once and fails (exit 1) when a request fails, an answer is empty, or
the slowest answer takes longer than ``--budget-ms``. Prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

SAMPLE = (
    "Which NFL team represented the AFC at Super Bowl 50?",
    "Where did Super Bowl 50 take place?",
    "What is the name of the Normans' language?",
    "When was the University of Chicago founded?",
    "What does a hydrogen atom consist of?",
)


class SmokeError(Exception):
    """The server is not ready in time or answered badly."""


def wait_ready(base: str, *, timeout_s: float, poll_s: float = 1.0) -> float:
    """Seconds until ``/readyz`` answered 200; raises when ``timeout_s`` passes first."""
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout_s:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return time.monotonic() - start
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(poll_s)
    raise SmokeError(f"{base}/readyz not ready after {timeout_s:.0f}s (last: {last})")


def ask(base: str, question: str, *, timeout_s: float) -> tuple[float, dict[str, object]]:
    body = json.dumps({"question": question, "user_id": "smoke-check"}).encode()
    req = urllib.request.Request(
        f"{base}/v1/query",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            payload = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise SmokeError(f"{question!r}: HTTP {exc.code}: {exc.read()[:300]!r}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise SmokeError(f"{question!r}: {exc}") from exc
    elapsed_ms = (time.perf_counter() - start) * 1000
    if not isinstance(payload, dict) or not str(payload.get("answer") or "").strip():
        raise SmokeError(f"{question!r}: empty answer: {str(payload)[:300]}")
    return elapsed_ms, payload


def run(
    base: str,
    questions: Sequence[str],
    *,
    budget_ms: float,
    ready_timeout_s: float,
    request_timeout_s: float,
    poll_s: float = 1.0,
) -> dict[str, object]:
    base = base.rstrip("/")
    ready_s = wait_ready(base, timeout_s=ready_timeout_s, poll_s=poll_s)
    latencies: list[float] = []
    for q in questions:
        ms, _ = ask(base, q, timeout_s=request_timeout_s)
        latencies.append(ms)
    worst = max(latencies) if latencies else 0.0
    summary: dict[str, object] = {
        "url": base,
        "ready_after_s": round(ready_s, 2),
        "questions": len(latencies),
        "latency_ms": [round(x, 1) for x in latencies],
        "max_ms": round(worst, 1),
        "budget_ms": budget_ms,
        "ok": worst <= budget_ms,
    }
    if worst > budget_ms:
        raise SmokeError(f"slowest answer {worst:.0f} ms over the budget of {budget_ms:.0f} ms")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--budget-ms", type=float, default=8000.0, help="Max latency of one answer.")
    ap.add_argument(
        "--ready-timeout", type=float, default=300.0, help="Seconds to wait for /readyz."
    )
    ap.add_argument("--request-timeout", type=float, default=60.0)
    ap.add_argument("--poll", type=float, default=1.0, help="Seconds between /readyz polls.")
    ap.add_argument("--questions", type=Path, help="One question a line (default: a built-in 5).")
    ap.add_argument("-n", type=int, default=None, help="Use only the first N questions.")
    args = ap.parse_args(argv)
    questions: Sequence[str] = SAMPLE
    if args.questions is not None:
        questions = [q.strip() for q in args.questions.read_text().splitlines() if q.strip()]
    if args.n is not None:
        questions = questions[: args.n]
    try:
        summary = run(
            args.url,
            questions,
            budget_ms=args.budget_ms,
            ready_timeout_s=args.ready_timeout,
            request_timeout_s=args.request_timeout,
            poll_s=args.poll,
        )
    except SmokeError as exc:
        print(json.dumps({"url": args.url, "ok": False, "error": str(exc)}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
