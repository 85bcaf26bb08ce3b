"""Server-Sent Events framing."""

from __future__ import annotations

from typing import Any

from online.answers import to_json_text


def sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else to_json_text(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
