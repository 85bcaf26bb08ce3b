"""The one place where errors become HTTP status codes and JSON bodies.

- bad input (validation, malformed JSON or invalid UTF-8, over-long question) → 422 naming the
  field: ``{"error": "invalid_input", "detail": [{"field", "loc", "msg", "type"}]}`` (a body that
  is not JSON in UTF-8 names ``body``, type ``json_invalid``, on every route); a body over
  ``TANDEM_MAX_BODY_BYTES`` → 413 with the same body (field ``body``, type ``body_too_large``);
- no index → 503; generation queue full → 503 with ``Retry-After``; a client over one of its
  rate limits → 429 with ``Retry-After``; a missing or unknown API key → 401; a dependency down
  (Redis for feedback/jobs, the LLM where an answer is required) → 503; unknown job → 404.
A dependency's failure is never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from online.errors import (
    CacheUnavailableError,
    CoreError,
    InvalidInputError,
    JobNotFoundError,
    LLMError,
    NoIndexError,
    OnlineError,
    OverloadedError,
    RateLimitedError,
)

log = logging.getLogger(__name__)


def invalid(
    field: str, msg: str, *, loc: list[Any] | None = None, kind: str = "value_error"
) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "error": "invalid_input",
            "detail": [{"field": field, "loc": loc or ["body", field], "msg": msg, "type": kind}],
        },
    )


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) if parts else "body"


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        kind = str(err.get("type", "value_error"))
        msg = str(err.get("msg", "invalid"))
        if kind == "json_invalid":
            msg = f"malformed JSON: {err.get('ctx', {}).get('error', msg)}"
        detail.append({"field": _field_of(loc), "loc": loc, "msg": msg, "type": kind})
    return JSONResponse(status_code=422, content={"error": "invalid_input", "detail": detail})


#: what FastAPI's body reader raises (as a 400) when the body does not decode (invalid UTF-8)
_UNPARSED_BODY = "There was an error parsing the body"


async def _http(request: Request, exc: Exception) -> Response:
    """FastAPI's own HTTP errors, except its 400 for a body that is not UTF-8 JSON: that is bad
    input like malformed JSON, so the same 422 as ``/v1/query`` gives (field ``body``)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
        return invalid("body", "malformed JSON: not valid UTF-8", loc=["body"], kind="json_invalid")
    return await http_exception_handler(request, exc)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": code, "message": message}, headers=headers
    )


def rate_limited(exc: RateLimitedError) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={"error": "rate_limited", "bucket": exc.bucket, "message": str(exc)},
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def _online(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidInputError):
        return invalid(exc.field, exc.message)
    if isinstance(exc, NoIndexError):
        return _error(503, "no_index", str(exc), {"Retry-After": "5"})
    if isinstance(exc, RateLimitedError):
        return rate_limited(exc)
    if isinstance(exc, OverloadedError):
        return _error(503, "overloaded", str(exc), {"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, JobNotFoundError):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, LLMError):
        return _error(503, "llm_unavailable", str(exc), {"Retry-After": "5"})
    if isinstance(exc, CacheUnavailableError):
        return _error(503, "redis_unavailable", str(exc), {"Retry-After": "2"})
    log.warning("dependency failure mapped to 503: %s", exc)
    return _error(503, "unavailable", str(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(OnlineError, _online)
    app.add_exception_handler(CoreError, _online)  # LLM, cache and index errors of the core
