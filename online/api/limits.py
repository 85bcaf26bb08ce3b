"""API keys and the per-request rate limit of ``/v1/*``, as plain ASGI.

It sits outside the exact-hit fast path (``online.api.fastpath``), so cache hits answered there
are limited like everything else. It resolves who is calling (an API key from ``X-API-Key`` or
``Authorization: Bearer``, else the client address), refuses an unknown key (and a missing one
when keys are required) with 401, counts the request in the ``requests`` bucket (429 with
``Retry-After`` when over), and leaves the caller's identity in the scope (``CLIENT_KEY``) for
the limits of generations and refinements further in.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from online.api.errors import rate_limited
from online.errors import RateLimitedError

CLIENT_KEY = "tandem.client"
_PREFIX = "/v1/"
_API_KEY = b"x-api-key"
_AUTHORIZATION = b"authorization"


def _presented_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _API_KEY:
            return value.decode("latin-1").strip()
        if name == _AUTHORIZATION:
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


async def _unauthorized(send: Send, message: str) -> None:
    body = json.dumps({"error": "unauthorized", "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="tandem"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_PREFIX):
            await self.app(scope, receive, send)
            return
        components: Any = getattr(scope["app"].state, "components", None)
        if components is None:
            await self.app(scope, receive, send)
            return
        limiter = components.limiter
        # with no keys declared a presented one is ignored: OpenAI clients always send a Bearer
        secret = _presented_key(scope) if components.settings.api_keys else None
        if secret is not None:
            key = limiter.key_for(secret)
            if key is None:
                await _unauthorized(send, "unknown API key")
                return
            subject = key.subject
        elif components.settings.api_keys_required:
            await _unauthorized(send, "an API key is required (X-API-Key)")
            return
        else:
            client = scope.get("client")
            subject = "ip:" + (client[0] if client else "unknown")
        scope[CLIENT_KEY] = subject
        try:
            await limiter.admit(subject, "requests")
        except RateLimitedError as exc:
            await rate_limited(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)
