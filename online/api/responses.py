"""Response bodies and the statuses each route documents in ``/openapi.json`` (the schemathesis
test, ``tests/faults/test_openapi_contract.py``, holds every response to them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from online.api.openai_errors import OpenAIErrorBody


class ErrorBody(BaseModel):
    """Every error but bad input: ``error`` is a stable code, ``message`` says what was wrong."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str | None = None


class DetailBody(BaseModel):
    """FastAPI's own errors (the admin guard): ``{"detail": "..."}``."""

    detail: str


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str
    loc: list[str | int]
    msg: str
    type: str


class InvalidInputBody(BaseModel):
    """422 (and 413, field ``body``): the fields that were wrong."""

    error: str
    detail: list[FieldError]


class SourceBody(BaseModel):
    chunk_id: str
    doc_id: str
    title: str
    score: float
    text: str


class AnswerBody(BaseModel):
    """POST /v1/query: ``answer`` is null when the LLM is unavailable (``degraded`` says why)."""

    model_config = ConfigDict(extra="allow")

    answer: str | None
    sources: list[SourceBody]
    cache: str
    index_version: str
    models: dict[str, str]
    variant: str
    query_id: str
    timings_ms: dict[str, float]
    degraded: str | None = None


class FeedbackAccepted(BaseModel):
    status: str
    id: str
    variant: str


class ReloadResult(BaseModel):
    requested: str | None
    swapped: bool
    serving: str | None
    error: str | None
    pinned: bool


class PurgeResult(BaseModel):
    removed: int
    scope: str | dict[str, str]


#: a route's ``responses=``: status → model/content/description
Responses = dict[int | str, dict[str, Any]]


def _error(description: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": description}


INVALID: Responses = {422: _error("A field is unacceptable", InvalidInputBody)}
TOO_LARGE: Responses = {413: _error("The body is over TANDEM_MAX_BODY_BYTES", InvalidInputBody)}
LIMITED: Responses = {429: _error("Over a rate limit; Retry-After says when to retry")}
UNAUTHORISED: Responses = {401: _error("A missing or unknown API key")}
UNAVAILABLE: Responses = {
    503: _error("No index, overloaded, Redis or the LLM unavailable; Retry-After")
}
NOT_FOUND: Responses = {404: _error("Unknown or expired")}
ADMIN: Responses = {
    400: _error("Malformed body", DetailBody),
    401: _error("Admin bearer token required", DetailBody),
    404: _error("Admin routes are off (no TANDEM_ADMIN_TOKEN)", DetailBody),
    **INVALID,
    **TOO_LARGE,
}
#: what every /v1 route may answer besides its own success
V1: Responses = {**INVALID, **TOO_LARGE, **LIMITED, **UNAUTHORISED, **UNAVAILABLE}


def _openai(description: str) -> dict[str, Any]:
    return {"model": OpenAIErrorBody, "description": description}


#: the OpenAI routes' errors, in OpenAI's shape (``online.api.openai_errors``)
OPENAI_LISTED: Responses = {
    401: _openai("A missing or unknown API key"),
    413: _openai("The body is over TANDEM_MAX_BODY_BYTES"),
    429: _openai("Over a rate limit; Retry-After says when to retry"),
}
OPENAI_V1: Responses = {
    **OPENAI_LISTED,
    404: _openai("The model is not one of /v1/models (code model_not_found)"),
    422: _openai("A field is unacceptable (param names it)"),
    503: _openai("No index, overloaded, Redis or the LLM unavailable; Retry-After"),
}

#: each event's data: a JSON object (or the chat API's closing ``[DONE]``)
SSE_CONTENT: dict[str, Any] = {"text/event-stream": {"schema": {"type": ["object", "string"]}}}
