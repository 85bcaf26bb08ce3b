"""The service SIGKILLed mid-stream (a real process): the client sees the stream cut, the
half-generated answer is not cached, and a restarted process becomes ready and answers whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
