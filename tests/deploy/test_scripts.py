"""docker/smoke.py and docker/canary_check.py against small in-process stub servers."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.manifests import DOCKER

Handler = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


smoke = _module("smoke")
canary = _module("canary_check")


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    class H(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, body = handler(method, self.path, self.rfile.read(length))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _api(
    answer: str = "Denver Broncos",
    *,
    ready_after: int = 0,
    queries: list[dict[str, Any]] | None = None,
) -> Handler:
    """The online API's stub; each query body is appended to ``queries`` for the test to check
    (an assert in this handler runs in the server's thread and could never fail the test)."""
    calls = {"readyz": 0}
    seen = queries if queries is not None else []

    def handle(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/readyz":
            calls["readyz"] += 1
            return (200, {"ok": True}) if calls["readyz"] > ready_after else (503, {})
        if path == "/v1/query" and method == "POST":
            seen.append(json.loads(body))
            return 200, {"answer": answer, "query_id": "x"}
        return 404, {}

    return handle


def test_smoke_passes_on_a_healthy_server(capsys: pytest.CaptureFixture[str]) -> None:
    queries: list[dict[str, Any]] = []
    with serve(_api(ready_after=1, queries=queries)) as url:
        rc = smoke.main(
            [
                "--url",
                url,
                "--budget-ms",
                "5000",
                "-n",
                "3",
                "--ready-timeout",
                "20",
                "--poll",
                "0.05",
            ]
        )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["ok"]
    assert out["questions"] == 3
    assert len(queries) == 3
    assert all(q["question"] and q["user_id"] == "smoke-check" for q in queries)


def test_smoke_fails_on_empty_answers_budget_and_not_ready(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve(_api(answer="  ")) as url:
        assert smoke.main(["--url", url, "-n", "1"]) == 1
    assert "empty answer" in json.loads(capsys.readouterr().out)["error"]
    with serve(_api()) as url:
        assert smoke.main(["--url", url, "-n", "2", "--budget-ms", "0"]) == 1
    assert "over the budget" in json.loads(capsys.readouterr().out)["error"]
    with serve(_api(ready_after=10**6)) as url:
        assert smoke.main(["--url", url, "--ready-timeout", "0.3", "--poll", "0.05"]) == 1
    assert "not ready" in json.loads(capsys.readouterr().out)["error"]


def _prometheus(values: dict[tuple[str, str], float]) -> Handler:
    """Answers each query with the figure of the (kind, track) it asks for."""

    def handle(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)["query"][0]
        track = "green" if 'track="green"' in query else "blue"
        kind = (
            "p95" if "histogram_quantile" in query else "errors" if "status=~" in query else "total"
        )
        v = values.get((kind, track))
        result = [] if v is None else [{"metric": {}, "value": [0, str(v)]}]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}

    return handle


def _check(
    values: dict[tuple[str, str], float], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    with serve(_prometheus(values)) as url:
        rc = canary.main(["--prometheus", url, "--canary", "green", "--baseline", "blue"])
    return rc, json.loads(capsys.readouterr().out)


def test_canary_check_pass_fail_and_insufficient(capsys: pytest.CaptureFixture[str]) -> None:
    healthy = {
        ("total", "blue"): 1000,
        ("errors", "blue"): 10,
        ("p95", "blue"): 0.40,
        ("total", "green"): 400,
        ("errors", "green"): 8,
        ("p95", "green"): 0.45,
    }
    rc, out = _check(healthy, capsys)
    assert (rc, out["verdict"]) == (0, "pass")
    assert out["canary"]["error_rate"] == pytest.approx(0.02)

    rc, out = _check(healthy | {("errors", "green"): 20}, capsys)  # 5% vs 1% + 2%
    assert (rc, out["verdict"]) == (1, "fail")
    assert "error rate" in out["reason"]

    rc, out = _check(healthy | {("p95", "green"): 0.60}, capsys)  # +50% vs 25% allowed
    assert (rc, out["verdict"]) == (1, "fail")
    assert "p95" in out["reason"]

    rc, out = _check(healthy | {("total", "green"): 50}, capsys)
    assert (rc, out["verdict"]) == (2, "insufficient")

    rc, out = _check({}, capsys)  # no series at all: no traffic
    assert (rc, out["verdict"]) == (2, "insufficient")


def test_canary_check_queries_select_route_and_track() -> None:
    q = canary.queries("tandem", "green", "5m")
    assert all('track="green"' in v and 'route="/v1/query"' in v for v in q.values())
    assert "[5m]" in q["requests"]
    assert "histogram_quantile(0.95" in q["p95_s"]
