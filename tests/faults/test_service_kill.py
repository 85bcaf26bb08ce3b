"""The service SIGKILLed mid-stream (a real process): the client sees the stream cut, the
half-generated answer is not cached, and a restarted process becomes ready and answers whole.
SIGTERMed mid-stream (scale-in): readiness turns false first, the streams in flight finish whole,
and only then does the process stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import PrivateRedis, record, wait_until
from tests.online.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LONG_QUESTION = (
    "Please tell me in many words which city is the capital of France and what river flows "
    "through it and how large it is compared with the other cities of the country today"
)


class ServiceProcess:
    def __init__(self, data_root: Path, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TANDEM_DATA_DIR": str(data_root),
            "TANDEM_REDIS_URL": redis_url,
            "TANDEM_DEVICE": "cpu",
            "TANDEM_RELOAD_POLL_S": "0.5",
            "TANDEM_RATE_LIMITS__ENABLED": "false",
            "TANDEM_FAULT_TOKEN_S": "0.05",
            # a long answer to cut mid-stream: p3's 64-token cap (p4, the default, caps at 16)
            "TANDEM_PROMPT_VERSION": "p3",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait for ``/readyz`` 200; returns seconds to ready."""
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.serve", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ready, timeout_s=90, what="the service to be ready", every_s=0.2)
        return time.monotonic() - started

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the service exited with {self.proc.returncode}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def service(data_root: Path, private_redis: PrivateRedis) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(data_root, private_redis.url)
    try:
        yield proc
    finally:
        proc.stop()


def _stream(url: str, *, kill: Any = None) -> tuple[list[str], str | None]:
    """The SSE event names of one streamed query; ``kill`` runs after the first token."""
    events: list[str] = []
    error = None
    try:
        with httpx.stream(
            "POST",
            f"{url}/v1/query",
            json={"question": LONG_QUESTION, "stream": True},
            timeout=httpx.Timeout(30, read=10),
        ) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("event: "):
                    events.append(line[7:])
                    if kill is not None and events.count("token") == 1:
                        kill()
    except httpx.HTTPError as exc:  # the cut stream
        error = type(exc).__name__
    return events, error


def test_service_killed_mid_stream_restarts_ready_and_answers_whole(
    service: ServiceProcess,
) -> None:
    first_ready_s = service.start()
    cut, error = _stream(service.url, kill=service.kill)
    assert "final" not in cut
    assert error is not None
    restart_ready_s = service.start()
    ready = httpx.get(f"{service.url}/readyz", timeout=10).json()
    whole, error_after = _stream(service.url)
    final = httpx.post(f"{service.url}/v1/query", json={"question": LONG_QUESTION}, timeout=30)

    assert ready["ready"] is True
    assert error_after is None
    assert whole[-1] == "final"
    assert final.status_code == 200
    assert final.json()["answer"] == f"answer: {LONG_QUESTION}"  # whole, never the cut one
    record(
        "service_sigkill_mid_stream",
        {
            "events_before_kill": len(cut),
            "client_error": error,
            "first_start_ready_s": round(first_ready_s, 1),
            "restart_ready_s": round(restart_ready_s, 1),
            "events_after_restart": len(whole),
            "answer_after_restart": "whole",
        },
    )


def test_sigterm_mid_stream_drains_then_lets_the_streams_finish(
    service: ServiceProcess,
) -> None:
    """Issue 27 item 7: a SIGTERM under load with streams in flight turns readiness false first,
    lets the in-flight streams finish within the grace period, and only then stops."""
    service.env["TANDEM_SHUTDOWN_DRAIN_S"] = "1.5"
    service.start()
    streams = 3
    started = [threading.Event() for _ in range(streams)]
    results: list[tuple[list[str], str | None]] = [([], None)] * streams

    def one(i: int) -> None:
        results[i] = _stream(service.url, kill=started[i].set)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for event in started:
        assert event.wait(timeout=30), "a stream never began"
    t_term = time.monotonic()
    service.terminate()
    ready = wait_until(
        lambda: (r := httpx.get(f"{service.url}/readyz", timeout=5)).status_code == 503 and r,
        timeout_s=5,
        what="readiness to turn false",
        every_s=0.05,
    )
    draining_s = time.monotonic() - t_term
    # still answering while it drains: a balancer that has not noticed yet loses nothing
    during = httpx.post(f"{service.url}/v1/query", json={"question": "Where is Paris?"}, timeout=30)
    for t in threads:
        t.join(timeout=60)
    assert service.proc is not None
    code = service.proc.wait(timeout=40)
    stopped_s = time.monotonic() - t_term

    assert ready.json()["ready"] is False
    assert "draining" in ready.json()["message"]
    assert during.status_code == 200
    for events, error in results:
        assert error is None, results
        assert events[-1] == "final", events
        assert events.count("token") > 1
    assert code in (0, -signal.SIGTERM)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{service.url}/healthz", timeout=2)
    record(
        "service_sigterm_mid_stream",
        {
            "streams_in_flight": streams,
            "streams_finished_whole": sum(r[0][-1] == "final" for r in results),
            "readiness_false_after_s": round(draining_s, 2),
            "answered_while_draining": during.status_code,
            "stopped_after_s": round(stopped_s, 1),
            "exit_code": code,
        },
    )
