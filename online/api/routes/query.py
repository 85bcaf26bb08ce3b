"""POST /v1/query: cache-first answer, JSON or Server-Sent Events."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from online.answering.context import Answering, StreamEvent
from online.answering.request import get_begun, new_request
from online.answers import AnswerRequest, AnswerResult
from online.api.deps import ExperimentsDep, LimiterDep, PipelineDep, RedisDep, SettingsDep
from online.api.disconnect import CLIENT_GONE_STATUS, closing, unless_client_leaves
from online.api.limits import CLIENT_KEY
from online.api.responses import SSE_CONTENT, V1, AnswerBody
from online.api.routes.sse import SSE_HEADERS, sse
from online.api.schemas import QueryBody, strip_blank
from online.errors import CacheUnavailableError, InvalidInputError
from online.experiments import DEBUG_KEY_HEADER, VARIANT_HEADER
from online.experiments.service import Experiments
from online.refine.jobs import RefineJob, enqueue, refine_job_id
from online.settings import OnlineSettings

log = logging.getLogger(__name__)
router = APIRouter(tags=["query"])


def to_request(
    body: QueryBody,
    settings: OnlineSettings,
    experiments: Experiments,
    *,
    variant_header: str | None = None,
    debug_key: str | None = None,
    client: str | None = None,
) -> AnswerRequest:
    limit = settings.max_question_chars
    if len(body.question) > limit:
        raise InvalidInputError(
            "question", f"is {len(body.question)} characters, the cap is {limit}"
        )
    return new_request(
        experiments,
        strip_blank(body.question),
        top_k=body.top_k,
        user_id=body.user_id,
        variant_header=variant_header,
        debug_key=debug_key,
        client=client,
    )


async def _refine(
    redis: Any, settings: OnlineSettings, result: AnswerResult, user_id: str | None
) -> dict[str, Any]:
    job = RefineJob(
        job_id=refine_job_id(result.question_hash, result.index_version, result.variant),
        query_id=result.query_id,
        question=result.question,
        user_id=user_id,
        variant=result.variant,
        requested_index_version=result.index_version,
    )
    try:
        status = await enqueue(
            redis,
            job,
            ttl_s=settings.refine_job_ttl_s,
            maxlen=settings.refine_stream_maxlen,
        )
    except CacheUnavailableError as exc:
        log.warning("refinement not queued: %s", exc)
        return {"id": None, "status": "unavailable", "error": str(exc)}
    return {"id": status.job_id, "status": status.status, "url": f"/v1/jobs/{status.job_id}"}


def _refine_later(settings: OnlineSettings, result: AnswerResult) -> bool:
    """A live answer of the fast tier goes to the deep tier when so configured."""
    return (
        settings.refine_live_misses
        and result.cache in ("miss", "unavailable")
        and result.answer is not None
        and not result.degraded
        and settings.deep_llm_model != settings.llm_model
    )


@dataclass(frozen=True)
class QueryCall:
    body: QueryBody
    variant_header: str | None
    #: the request as the fast path began it (its exact lookup done and missed), if it did
    begun: Answering | None = None
    #: who the rate limits count the call against (``online.api.limits``)
    client: str | None = None
    #: ``X-Tandem-Debug-Key``: lets ``variant_header`` force a variant when it is a declared key
    debug_key: str | None = None


async def read_query(http: Request) -> QueryCall:
    """The validated body, the variant header and the fast path's lookup, in one dependency.

    The body is validated by pydantic straight from the bytes: the same model and the same 422s as
    a ``body: QueryBody`` parameter, without FastAPI's generic body machinery (decode, validate,
    wrap errors) and a second dependency, which were a large share of the cache-hit path's time.
    """
    try:
        raw = await http.body()
    except ClientDisconnect:
        raise InvalidInputError("body", "the client went away before sending it all") from None
    try:
        body = QueryBody.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)],
            body=raw,
        ) from None
    return QueryCall(
        body,
        http.headers.get(VARIANT_HEADER),
        get_begun(http.scope),
        http.scope.get(CLIENT_KEY),
        http.headers.get(DEBUG_KEY_HEADER),
    )


QueryCallDep = Annotated[QueryCall, Depends(read_query)]
_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": QueryBody.model_json_schema()}},
    }
}


@router.post(
    "/v1/query",
    response_model=None,
    openapi_extra=_BODY_SCHEMA,
    responses={
        200: {
            "model": AnswerBody,
            "content": SSE_CONTENT,
            "description": "JSON, or SSE with stream",
        },
        **V1,
    },
)
async def query(
    http: Request,
    call: QueryCallDep,
    pipeline: PipelineDep,
    settings: SettingsDep,
    experiments: ExperimentsDep,
    redis: RedisDep,
    limiter: LimiterDep,
) -> Response:
    body = call.body
    if body.refine and call.client is not None:
        await limiter.admit(call.client, "refines")
    begun = call.begun if not body.stream and not body.refine else None
    if begun is not None:
        request = begun.request
    else:
        request = to_request(
            body,
            settings,
            experiments,
            variant_header=call.variant_header,
            debug_key=call.debug_key,
            client=call.client,
        )
    headers = {VARIANT_HEADER: request.variant}
    if not body.stream:
        try:
            result = await unless_client_leaves(http.receive, pipeline.answer(request, begun=begun))
        except ClientDisconnect:  # gone while its answer was computed: the generation stopped
            return Response(status_code=CLIENT_GONE_STATUS)
        extra = (
            {"refine": await _refine(redis, settings, result, body.user_id)}
            if body.refine or _refine_later(settings, result)
            else None
        )
        return Response(result.to_json(extra), media_type="application/json", headers=headers)
    events = pipeline.stream(request)
    try:  # errors before the first event (no index, queue full) → JSON
        first = await unless_client_leaves(http.receive, anext(events))
    except ClientDisconnect:
        await events.aclose()
        return Response(status_code=CLIENT_GONE_STATUS)

    async def frames() -> AsyncIterator[bytes]:
        event: StreamEvent | None = first
        while event is not None:
            if event.kind == "token":
                yield sse("token", {"text": event.text})
            elif event.result is not None:
                extra = None
                if body.refine or _refine_later(settings, event.result):
                    extra = {"refine": await _refine(redis, settings, event.result, body.user_id)}
                yield b"event: final\ndata: " + event.result.to_json(extra) + b"\n\n"
            event = await anext(events, None)

    return StreamingResponse(
        closing(frames(), events),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **headers},
    )
