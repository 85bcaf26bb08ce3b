"""Fixtures of the fault campaign: a private Redis that can be killed and paused, a bounded load
loop against a real uvicorn server, deadlines instead of sleeps, and the figures each test
prints (collected here and shown in the terminal summary; ``docs/RELIABILITY.md`` records them).

Every fault test runs on its own Redis (a ``redis-server`` on a free loopback port, no
persistence) or on none, so the shared Redis is never killed or paused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.online.conftest import (  # noqa: F401  (the online fixtures, used here too)
    built_indexes,
    data_root,
    encoder,
    fake_llm,
    free_port,
    settings_factory,
)

#: (test, figures) in the order the tests ran; printed by ``pytest_terminal_summary``
FIGURES: list[tuple[str, dict[str, Any]]] = []


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep one test's figures for the summary and print them (visible with ``-s``)."""
    FIGURES.append((name, figures))
    print(f"FAULT-FIGURES {name} {json.dumps(figures, sort_keys=True)}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault campaign figures")
    for name, figures in FIGURES:
        terminalreporter.write_line(f"{name}: {json.dumps(figures, sort_keys=True)}")


def wait_until(
    check: Callable[[], Any], *, timeout_s: float, what: str, every_s: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(every_s)  # polling interval of a deadline loop, not a synchronisation


#: the query log's dropped-events counter (online/querylog_writer.py)
DROPPED = "tandem_querylog_dropped_total"


class PrivateRedis:
    """A ``redis-server`` of this test only: started, killed (SIGKILL), paused (SIGSTOP) and
    resumed (SIGCONT), restarted on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (scripts/ensure_system.sh installs it)")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout_s=10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis

        try:
            client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
            with client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            self.resume()
            self.kill()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class LoadCounts:
    """What a load phase saw: HTTP status, ``cache`` outcome and error code of each answer."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    max_latency_s: float = 0.0

    def add(self, response: httpx.Response, latency_s: float) -> None:
        self.requests += 1
        self.statuses[response.status_code] += 1
        self.max_latency_s = max(self.max_latency_s, latency_s)
        body = response.json()
        if response.status_code == 200:
            self.cache[str(body.get("cache"))] += 1
        else:
            self.errors[f"{response.status_code} {body.get('error')}"] += 1

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "cache": dict(sorted(self.cache.items())),
            "errors": dict(sorted(self.errors.items())),
            "max_latency_s": round(self.max_latency_s, 2),
        }


#: the 503s the service documents (``online/api/errors.py``); any other 5xx fails a fault test
DOCUMENTED_503 = {"503 overloaded", "503 redis_unavailable", "503 llm_unavailable", "503 no_index"}

QUESTIONS = [
    "What is the capital of France?",
    "What is the capital of Germany?",
    "Who won Super Bowl 50?",
    "How long is the Nile?",
    "How high is Everest?",
    "Who created Python?",
    "When did Apollo 11 land on the Moon?",
    "Which river carries the most water?",
]


def run_load(
    url: str,
    *,
    requests: int,
    max_s: float,
    workers: int = 4,
    questions: list[str] = QUESTIONS,
    during: Callable[[], None] | None = None,
) -> LoadCounts:
    """At most ``requests`` POST /v1/query on loopback from ``workers`` threads, stopping early
    once ``max_s`` has passed; ``during`` runs in the calling thread while the load runs."""
    counts = LoadCounts()
    stop_at = time.monotonic() + max_s

    def one(i: int) -> tuple[httpx.Response, float] | None:
        if time.monotonic() > stop_at:
            return None
        started = time.monotonic()
        r = httpx.post(
            f"{url}/v1/query", json={"question": questions[i % len(questions)]}, timeout=30
        )
        return r, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, i) for i in range(requests)]
        if during is not None:
            during()
        for future in futures:
            result = future.result(timeout=max_s + 60)
            if result is not None:
                counts.add(*result)
    return counts


def metric(url: str, name: str) -> float:
    """One sample of ``/metrics`` by its exact name (labels included), 0 when absent."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


class PrivateCluster:
    """A Redis Cluster of this test only (3 masters, 3 replicas; ``scripts/redis_cluster.sh``)
    on six free loopback ports from ``base``; a master can be killed (SIGKILL) to watch its
    replica take over."""

    SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redis_cluster.sh"

    def __init__(self, base: int) -> None:
        self.base = base
        self.ports = list(range(base, base + 6))
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:3])

    def _run(self, action: str) -> None:
        subprocess.run(
            ["bash", str(self.SCRIPT), action, str(self.base)],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def client(self) -> Any:
        from core.redis_clients import sync_redis

        return sync_redis(self.url)

    def master_of(self, key: str) -> int:
        """The port of the master that serves ``key``'s hash slot now."""
        with self.client() as client:
            node = client.get_node_from_key(key)
            if isinstance(node, list):  # redis-py 8 answers a list of one
                node = node[0]
            return int(node.port)

    def kill(self, port: int) -> None:
        pid = self.SCRIPT.parents[1] / "var" / "redis-cluster" / str(port) / "redis.pid"
        os.kill(int(pid.read_text().strip()), signal.SIGKILL)


def _free_block(start: int = 7200, size: int = 6) -> int:
    """A base port with ``size`` free ports, and their cluster-bus ports (+10000), free."""
    import socket

    for base in range(start, start + 1000, 10):
        ports = [p for b in range(base, base + size) for p in (b, b + 10000)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports for a Redis Cluster")


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(_free_block())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
