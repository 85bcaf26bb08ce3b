"""Rate limits across two real service processes (issue 13): one client sending to both gets
the shared burst in all, not one burst per process; over it, 429 with ``Retry-After`` and the
limiter's JSON body, on the exact-hit fast path too; each process counts its decisions.

Two ``tandem serve`` subprocesses on their own ports share this test's Redis database and data
dir; the LLM is a stub OpenAI-compatible server in this process (no model to load), so the first
query is generated once and every later one is an exact cache hit in either process.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared_schemas.layout import RATE_LIMIT_PREFIX
from tests.conftest import TEST_REDIS_URL
from tests.online.conftest import free_port

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
TANDEM = REPO / ".venv" / "bin" / "tandem"
BURST = 4
RATE_PER_S = 0.2  # one more request every 5 s: the burst is sent well inside one interval
QUESTION = {"question": "Where is Berlin?"}
START_S = 90.0


class _StubLLM(BaseHTTPRequestHandler):
    """``POST .../chat/completions`` answered at once with one fixed completion."""

    calls = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).calls += 1
        body = json.dumps(
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Berlin."}}],
                "usage": {"completion_tokens": 2},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def stub_llm() -> Iterator[tuple[str, type[_StubLLM]]]:
    handler = type("StubLLM", (_StubLLM,), {"calls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Service:
    """One ``tandem serve`` process; its output goes to a log file shown when it fails."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(TANDEM), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"{self.url} exited with {self.proc.returncode}:\n{self.log_path.read_text()}"
            )
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def _wait_ready(services: list[Service]) -> None:
    deadline = time.monotonic() + START_S
    pending = list(services)
    while pending:
        pending = [s for s in pending if not s.ready()]
        if pending and time.monotonic() > deadline:
            logs = "\n".join(s.log_path.read_text()[-3000:] for s in pending)
            raise AssertionError(f"not ready after {START_S}s: {logs}")
        if pending:
            time.sleep(0.2)  # polling interval of a deadline loop, not a synchronisation


def _decisions(url: str) -> dict[tuple[str, str, str], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tandem_rate_limit_decisions_total":
                labels = sample.labels
                out[(labels["bucket"], labels["client"], labels["outcome"])] = sample.value
            elif sample.name == "tandem_rate_limit" and sample.labels["bucket"] == "requests":
                out[("requests", "limit", sample.labels["figure"])] = sample.value
    return out


@dataclass
class Deployment:
    services: list[Service]
    llm: type[_StubLLM]


@pytest.fixture
def deployment(data_root: Path, redis_client: Any, tmp_path: Path) -> Iterator[Deployment]:
    open_limit = {"RATE_PER_S": "1000", "BURST": "1000"}
    with ExitStack() as stack:
        llm_url, handler = stack.enter_context(stub_llm())
        env = {
            **os.environ,
            "TANDEM_DATA_DIR": str(data_root),
            "TANDEM_REDIS_URL": TEST_REDIS_URL,
            "TANDEM_DEVICE": "cpu",
            "TANDEM_LLM_BACKEND": "openai",
            "TANDEM_LLM_URL": llm_url,
            "TANDEM_LLM_TIMEOUT_S": "5",
            "TANDEM_RATE_LIMITS__ENABLED": "true",
            "TANDEM_RATE_LIMITS__REQUESTS__RATE_PER_S": str(RATE_PER_S),
            "TANDEM_RATE_LIMITS__REQUESTS__BURST": str(BURST),
            **{f"TANDEM_RATE_LIMITS__GENERATIONS__{k}": v for k, v in open_limit.items()},
            **{f"TANDEM_RATE_LIMITS__REFINES__{k}": v for k, v in open_limit.items()},
        }
        started = [Service(env, tmp_path / f"serve-{i}.log") for i in (1, 2)]
        for service in started:
            stack.callback(service.stop)
        _wait_ready(started)
        yield Deployment(started, handler)


def test_two_processes_share_one_burst_and_refuse_with_retry_after(
    deployment: Deployment, redis_client: Any
) -> None:
    services = deployment.services
    statuses: list[int] = []
    replies: list[httpx.Response] = []
    with httpx.Client(timeout=30) as client:
        sent = refused_at = time.monotonic()
        for i in range(2 * BURST + 2):  # alternately: first, second, first, ...
            r = client.post(f"{services[i % 2].url}/v1/query", json=QUESTION)
            statuses.append(r.status_code)
            replies.append(r)
            if r.status_code == 429:
                refused_at = time.monotonic()
                break
        assert refused_at - sent < 1 / RATE_PER_S, "the burst took longer than one interval"
        assert statuses == [200] * BURST + [429], statuses  # one shared burst, not one each
        # the other process, which admitted only half the burst itself, refuses too
        other = services[len(statuses) % 2]
        also = client.post(f"{other.url}/v1/query", json=QUESTION)

        # the wait Retry-After names is the wait: refusals do not move the client's TAT
        retry_after = int(replies[-1].headers["retry-after"])
        polls = 0
        while True:
            polls += 1
            again = client.post(f"{services[polls % 2].url}/v1/query", json=QUESTION)
            if again.status_code == 200:
                break
            assert again.status_code == 429, again.text
            assert time.monotonic() - refused_at < retry_after + 2, "still refused after the wait"
            time.sleep(0.25)  # polling interval of a deadline loop, not a synchronisation
        waited_s = time.monotonic() - refused_at

    assert [r.json()["cache"] for r in replies[1:BURST]] == ["exact"] * (BURST - 1)
    limited = replies[-1]
    assert limited.headers["content-type"].startswith("application/json")
    body = limited.json()
    assert body["error"] == "rate_limited"
    assert body["bucket"] == "requests"
    assert isinstance(body["message"], str)
    assert body["message"]
    assert 1 <= retry_after <= 1 / RATE_PER_S
    assert also.status_code == 429
    assert also.json()["error"] == "rate_limited"
    assert int(also.headers["retry-after"]) >= 1
    assert retry_after - 1.5 < waited_s < retry_after + 2
    assert again.json()["cache"] == "exact"
    assert deployment.llm.calls == 1  # every later answer an exact cache hit
    assert redis_client.exists(f"{RATE_LIMIT_PREFIX}:requests:ip:127.0.0.1")

    counts = [_decisions(s.url) for s in services]
    for c in counts:
        assert c[("requests", "limit", "burst")] == BURST
        assert c[("requests", "address", "allowed")] >= 1
        assert c[("requests", "address", "limited")] >= 1
    allowed = sum(c[("requests", "address", "allowed")] for c in counts)
    refused = sum(c[("requests", "address", "limited")] for c in counts)
    assert allowed == BURST + 1  # the burst and the one after the wait
    assert refused == 2 + polls - 1  # the first refusal, the other process's, the polls refused
