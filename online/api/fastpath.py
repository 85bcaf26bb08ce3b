"""The exact-cache-hit path of ``POST /v1/query`` as plain ASGI.

A hot answer is one Redis GET; FastAPI's routing, dependency resolution, body machinery and
response classes cost more than that, and so did the service's own middleware chain (metrics,
error shapes, the body limit, the limiter: about 15% of a hit's time). :class:`ExactHitFastPath`
is the outermost middleware: it applies the body limit, the API keys and the request limit
(``online.api.limits.admission``, the limiter middleware's own rule, decided once) and records
the request metrics itself, and answers a plain JSON query (no ``stream``, no ``refine``) whose
body passes quick checks and whose answer is in the exact cache. Everything else goes on to the
FastAPI route unchanged, with the body replayed: other routes, streaming, refinement, any body
the quick checks do not accept (the route's pydantic model gives the 422 naming the field), and
every miss, which carries the lookup already done in the scope
(:func:`online.answering.request.set_begun`) so the route does not repeat it. The quick checks
accept a subset of what :class:`online.api.schemas.QueryBody` accepts, so a body is never
answered here that the route would refuse.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from online.answering.request import new_request, set_begun
from online.api.limits import CLIENT_KEY, DECIDED_KEY, admission
from online.api.schemas import strip_blank
from online.errors import OnlineError
from online.experiments import DEBUG_KEY_HEADER, VARIANT_HEADER

log = logging.getLogger(__name__)

PATH = "/v1/query"
_HEADER = VARIANT_HEADER.lower().encode()
_DEBUG_KEY = DEBUG_KEY_HEADER.lower().encode()
_TOP_K_MAX = 50
_USER_ID_MAX = 200


class _Route:
    """What :class:`online.api.middleware.MetricsMiddleware` reads the route label from."""

    path = PATH


_ROUTE = _Route()


def quick_body(raw: bytes, max_chars: int) -> tuple[str, int | None, str | None] | None:
    """``(question, top_k, user_id)`` of a plain query body, or None to leave it to the route."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return None
    if type(body) is not dict:
        return None
    question = body.get("question")
    if type(question) is not str or len(question) > max_chars:
        return None
    question = strip_blank(question)
    if not question or body.get("stream", False) is not False:
        return None
    if body.get("refine", False) is not False:
        return None
    top_k = body.get("top_k")
    if top_k is not None and (type(top_k) is not int or not 1 <= top_k <= _TOP_K_MAX):
        return None
    user_id = body.get("user_id")
    if user_id is not None and (type(user_id) is not str or len(user_id) > _USER_ID_MAX):
        return None
    if not _encodable(question) or (user_id is not None and not _encodable(user_id)):
        return None  # a lone surrogate: the route refuses it (422)
    return question, top_k, user_id


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives back the messages already read, in order."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class ExactHitFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        components: Any = getattr(scope["app"].state, "components", None)
        if components is None:
            await self.app(scope, receive, send)
            return
        limit = components.settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await self.app(scope, receive, send)  # the body limit refuses it
                    return
                break
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # gone before the body ended: the route says so
                await self.app(scope, _replay(messages, receive), send)
                return
            size += len(message.get("body", b""))
            if size > limit or not message.get("more_body", False):
                break
        if size > limit:
            await self.app(scope, _replay(messages, receive), send)
            return
        if len(messages) == 1:
            raw = messages[0].get("body", b"")
        else:
            raw = b"".join(m.get("body", b"") for m in messages)
        if await self._answer(scope, raw, send, components):
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _answer(self, scope: Scope, raw: bytes, send: Send, components: Any) -> bool:
        """Answer from the exact cache; False (nothing sent) to leave the request to the route
        (with what was decided about it in the scope)."""
        parsed = quick_body(raw, components.settings.max_question_chars)
        if parsed is None:
            return False
        metrics = components.metrics
        t0 = time.perf_counter()
        metrics.in_flight.inc()
        try:
            decided = await admission(scope, components)
            if not isinstance(decided, str):  # 401 or 429: the middleware chain answers it
                scope[DECIDED_KEY] = decided
                return False
            scope[DECIDED_KEY] = decided
            scope[CLIENT_KEY] = decided
            payload, variant = await self._hit(scope, parsed, components)
            if payload is None:
                return False
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (_HEADER, variant.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            count, latency = metrics.request_children(PATH, "POST", "200")
            count.inc()
            latency.observe(time.perf_counter() - t0)
            return True
        finally:
            metrics.in_flight.dec()

    async def _hit(
        self, scope: Scope, parsed: tuple[str, int | None, str | None], components: Any
    ) -> tuple[bytes | None, str]:
        """The hit's body and variant; None on a miss (its lookup left in the scope)."""
        question, top_k, user_id = parsed
        header = debug_key = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                header = value.decode("latin-1")
            elif name == _DEBUG_KEY:
                debug_key = value
        request = new_request(
            components.experiments,
            question,
            top_k=top_k,
            user_id=user_id,
            variant_header=header,
            debug_key=debug_key,
            client=scope.get(CLIENT_KEY),
        )
        variant = request.variant
        try:
            result, begun = await components.pipeline.exact_hit(request)
        except (OnlineError, ValueError) as exc:  # no index, unencodable text: the route answers
            log.debug("fast path declined: %s", exc)
            return None, variant
        if result is None:
            set_begun(scope, begun)
            return None, variant
        scope["route"] = _ROUTE
        return result.to_json(), variant
