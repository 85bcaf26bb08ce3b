"""API keys and the per-request rate limit of ``/v1/*``, as plain ASGI.

It resolves who is calling (an API key from ``X-API-Key`` or ``Authorization: Bearer``, else the
client address), refuses an unknown key (and a missing one when keys are required) with 401,
counts the request in the ``requests`` bucket (429 with ``Retry-After`` when over), and leaves
the caller's identity in the scope (``CLIENT_KEY``) for the limits of generations and
refinements further in. The exact-hit fast path (``online.api.fastpath``) runs before it and
applies the same rule (:func:`admission`), so cache hits answered there are limited like
everything else; what it decided travels in the scope (``DECIDED_KEY``), never decided twice.
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


#: scope key: the fast path (which runs before this middleware) already resolved and admitted
#: the request: the subject it admitted, or the ASGI response that refuses it
DECIDED_KEY = "tandem.admission"


async def admission(scope: Scope, components: Any) -> str | ASGIApp:
    """Who is calling, admitted to the ``requests`` bucket; or the ASGI response that refuses
    the request (401 for a missing or unknown key, 429 over the limit). One rule for this
    middleware and the fast path."""
    limiter = components.limiter
    # with no keys declared a presented one is ignored: OpenAI clients always send a Bearer
    secret = _presented_key(scope) if components.settings.api_keys else None
    if secret is not None:
        key = limiter.key_for(secret)
        if key is None:
            return _refusal("unknown API key")
        subject = str(key.subject)
    elif components.settings.api_keys_required:
        return _refusal("an API key is required (X-API-Key)")
    else:
        client = scope.get("client")
        subject = "ip:" + (client[0] if client else "unknown")
    try:
        await limiter.admit(subject, "requests")
    except RateLimitedError as exc:
        return rate_limited(exc)
    return subject


def _refusal(message: str) -> ASGIApp:
    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await _unauthorized(send, message)

    return refuse


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
        decided = scope.pop(DECIDED_KEY, None)
        if decided is None:
            decided = await admission(scope, components)
        if not isinstance(decided, str):
            await decided(scope, receive, send)
            return
        scope[CLIENT_KEY] = decided
        await self.app(scope, receive, send)
