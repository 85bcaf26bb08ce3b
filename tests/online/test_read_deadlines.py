"""Read deadlines on every request (issue 27 item 6): a client that trickles its headers or its
body (slowloris) is cut off; a client that sends its request in time is not."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from online.app import create_app
from online.components import build_components
from tests.online.conftest import running_server

pytestmark = pytest.mark.integration


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes; seconds it took."""
    t0 = time.monotonic()
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data, time.monotonic() - t0


def test_slow_headers_get_408_slow_bodies_are_cut_and_others_are_served(
    settings_factory: Any, fake_llm: Any, encoder: Any
) -> None:
    settings = settings_factory()
    components = build_components(settings, encoder=encoder, llm=fake_llm)
    app = create_app(settings, components=components)
    with running_server(app, header_timeout_s=1.0, body_timeout_s=1.0) as url:
        # a connection that never sends anything
        idle = _connect(url)
        # headers begun, never finished
        slow_headers = _connect(url)
        slow_headers.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\n")
        # headers done, the body promised but never sent in full
        slow_body = _connect(url)
        slow_body.sendall(
            b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"question": '
        )
        # meanwhile a well-behaved client is answered
        ok = httpx.post(f"{url}/v1/query", json={"question": "Where is Tokyo?"}, timeout=30)
        assert ok.status_code == 200

        data, took = _read_all(slow_headers)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert took < 5
        data, took = _read_all(idle)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert took < 5
        data, took = _read_all(slow_body)
        assert b" 200 " not in data
        assert took < 5
        for sock in (idle, slow_headers, slow_body):
            sock.close()
        # a kept-alive connection is still served after an idle pause shorter than the deadline
        with httpx.Client(timeout=30) as client:
            for _ in range(2):
                r = client.post(f"{url}/v1/query", json={"question": "Where is Tokyo?"})
                assert r.status_code == 200
