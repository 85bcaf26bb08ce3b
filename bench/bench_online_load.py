"""A minimal keep-alive HTTP/1.1 load generator (raw asyncio sockets, so the client costs as
little as possible and the figures describe the server)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200) + len(self.errors)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000.0


def _request(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _connection(
    port: int,
    path: str,
    make_body: Callable[[int], dict[str, Any]],
    deadline: float,
    result: LoadResult,
    conn_no: int,
    keep_bodies: bool,
) -> None:
    i = 0
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            body = json.dumps(make_body(conn_no * 1_000_000 + i)).encode()
            i += 1
            t0 = time.perf_counter()
            writer.write(_request(path, body))
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            payload = await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if keep_bodies:
                result.bodies.append(payload)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors.append(repr(exc))
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run_load(
    port: int,
    make_body: Callable[[int], dict[str, Any]],
    *,
    seconds: float,
    connections: int,
    path: str = "/v1/query",
    keep_bodies: bool = False,
) -> LoadResult:
    result = LoadResult(seconds=seconds)
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            _connection(port, path, make_body, deadline, result, n, keep_bodies)
            for n in range(connections)
        )
    )
    return result


def load(port: int, make_body: Callable[[int], dict[str, Any]], **kw: Any) -> LoadResult:
    return asyncio.run(run_load(port, make_body, **kw))
