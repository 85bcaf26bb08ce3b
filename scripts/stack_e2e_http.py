"""`make stack-e2e`'s plumbing: HTTP with the standard library, polling, and the bounded load
through the proxy that the blue-green and fault steps run under."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from stack_engine import LOOPBACK
from stack_hostnet import PORTS, TRACKS

PROXY = f"http://{LOOPBACK}:{PORTS['proxy']}"
AIRFLOW = f"http://{LOOPBACK}:{PORTS['airflow']}"
PROMETHEUS = f"http://{LOOPBACK}:{PORTS['prometheus']}"
#: each track's replica, reached directly (not through the proxy)
REPLICAS = {t: f"http://{LOOPBACK}:{PORTS[t]}" for t in TRACKS}
QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"


class E2EError(Exception):
    pass


def log(msg: str) -> None:
    print(f"e2e [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload, hdrs


def wait_for(what: str, check: Callable[[], Any], *, timeout_s: float, poll_s: float = 2) -> Any:
    """Poll ``check`` until it returns something truthy; raises after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(poll_s)  # poll the service
    raise E2EError(f"{what}: not after {timeout_s:.0f} s (last: {str(last)[:300]})")


def ask(question: str = QUESTION, timeout: float = 120) -> tuple[int, Any, dict[str, str], float]:
    t0 = time.perf_counter()
    status, body, headers = http(
        "POST",
        f"{PROXY}/v1/query",
        {"question": question, "user_id": "stack-e2e"},
        timeout=timeout,
    )
    return status, body, headers, (time.perf_counter() - t0) * 1000


def track_of(headers: dict[str, str]) -> str:
    """The track that answered, from the proxy's X-Tandem-Upstream header."""
    upstream = headers.get("X-Tandem-Upstream", "").split(",")[-1].strip()
    for track in TRACKS:
        if upstream.endswith(f":{PORTS[track]}"):
            return track
    return "unknown"


class Load:
    """Bounded loopback load through the proxy: ``workers`` threads, one request in flight each,
    each at most ``per_s`` requests a second."""

    def __init__(self, workers: int = 3, per_s: float = 5.0, question: str = QUESTION) -> None:
        # 3 x 5 requests/s: under the service's default rate limit (20/s, burst 50, per client;
        # every request comes from the proxy's address)
        self.workers, self.question, self.interval = workers, question, 1.0 / per_s
        self.stop = threading.Event()
        self.ok: Counter[str] = Counter()
        self.failed: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(workers)]

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.stop.wait(self.interval)  # pacing: a bounded request rate, not synchronisation
            try:
                status, body, headers, _ms = ask(self.question, timeout=60)
            except OSError as exc:
                with self.lock:
                    self.failed.append(f"{type(exc).__name__}: {exc}")
                continue
            with self.lock:
                if status == 200 and isinstance(body, dict) and body.get("answer"):
                    self.ok[track_of(headers)] += 1
                else:
                    self.failed.append(f"HTTP {status}: {str(body)[:200]}")

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return sum(self.ok.values()), len(self.failed)

    @contextmanager
    def running(self) -> Iterator[Load]:
        for t in self.threads:
            t.start()
        try:
            yield self
        finally:
            self.stop.set()
            for t in self.threads:
                t.join(timeout=90)

    def figures(self) -> dict[str, Any]:
        return {"ok": sum(self.ok.values()), "failed": len(self.failed), **dict(self.ok)}


def during(load: Load, seconds: float) -> None:
    """Let the load run ``seconds`` more and at least a few more requests succeed."""
    ok0, _ = load.snapshot()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or load.snapshot()[0] < ok0 + 5:
        time.sleep(0.2)  # the load threads do the work; this only paces the scenario
        if time.monotonic() > deadline + 60:
            raise E2EError("the load made no progress")
