"""Errors of the OpenAI routes in OpenAI's shape: ``{"error": {message, type, param, code}}``.

Tandem's own routes keep their bodies (``online.api.errors``); on the OpenAI routes
(:data:`OPENAI_PATHS`) :class:`OpenAIErrorShape`, outside the body-size and rate-limit
middleware, rewrites every error body into OpenAI's shape, keeping the status, the headers
(``Retry-After``, ``WWW-Authenticate``) and Tandem's code as ``code``, so the ``openai`` client
and tools built on it read the message. ``type`` follows the status: ``invalid_request_error``
(400, 404, 413, 422), ``authentication_error`` (401), ``rate_limit_error`` (429),
``server_error`` (5xx); ``param`` names the field of bad input.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the routes that speak OpenAI's protocol
OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/models"})


class OpenAIError(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """OpenAI's error body; Tandem's details ride along inside ``error`` (``detail``, ...)."""

    error: OpenAIError


def error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_error(
    status: int,
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}
    return JSONResponse(status_code=status, content=body, headers=headers)


def translate(status: int, body: Any) -> dict[str, Any]:
    """Tandem's error body (any of ``online.api.errors``'s, FastAPI's ``detail``) in OpenAI's
    shape; a body already in it is kept."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body
    error: dict[str, Any] = {"message": "", "type": error_type(status), "param": None}
    if not isinstance(body, dict):
        error.update(message=str(body), code=None)
        return {"error": error}
    detail = body.get("detail")
    if isinstance(body.get("error"), str):
        error["code"] = body["error"]
    else:
        error["code"] = None
    if isinstance(detail, list) and detail:  # bad input: the fields that were wrong
        first = detail[0] if isinstance(detail[0], dict) else {}
        error["param"] = first.get("field")
        error["message"] = "; ".join(
            f"{d.get('field')}: {d.get('msg')}" for d in detail if isinstance(d, dict)
        )
        error["detail"] = detail
    elif isinstance(detail, str):
        error["message"] = detail
    else:
        error["message"] = str(body.get("message") or error["code"] or "error")
    for key, value in body.items():
        if key not in ("error", "detail", "message"):
            error.setdefault(key, value)
    return {"error": error}


class OpenAIErrorShape:
    """Rewrites error responses (status >= 400) of :data:`OPENAI_PATHS` into OpenAI's shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in OPENAI_PATHS:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def shaped_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and int(message["status"]) >= 400:
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._send_shaped(start, b"".join(chunks), send)

        await self.app(scope, receive, shaped_send)

    @staticmethod
    async def _send_shaped(start: Message, raw: bytes, send: Send) -> None:
        status = int(start["status"])
        try:
            body: Any = json.loads(raw) if raw else ""
        except ValueError:
            body = raw.decode("utf-8", "replace")
        payload = json.dumps(translate(status, body)).encode()
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k not in (b"content-length", b"content-type")
        ]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
