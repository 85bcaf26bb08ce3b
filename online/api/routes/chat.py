"""POST /v1/chat/completions: the OpenAI chat API over the same pipeline (the last user message
with text is the question), so the official ``openai`` client and tools built on it work unchanged.

A miss with the LLM down follows the rule of ``/v1/query``: 200 with the sources and no answer —
``message.content`` is ``null``, ``finish_reason`` stays ``"stop"`` (OpenAI's values have none
for "no model"), and the ``tandem`` extension says ``finish_reason: "llm_unavailable"`` with the
``degraded`` reason, as ``/v1/query`` says ``answer: null`` and ``degraded``."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from online.answers import AnswerRequest, AnswerResult
from online.api.deps import ExperimentsDep, LLMDep, PipelineDep, SettingsDep
from online.api.disconnect import CLIENT_GONE_STATUS, closing, unless_client_leaves
from online.api.limits import CLIENT_KEY
from online.api.responses import LIMITED, SSE_CONTENT, UNAUTHORISED, V1
from online.api.routes.sse import SSE_HEADERS, sse
from online.api.schemas import ChatCompletionBody
from online.errors import InvalidInputError
from online.experiments import DEBUG_KEY_HEADER, VARIANT_HEADER
from online.pipeline import StreamEvent

router = APIRouter(tags=["openai"])


#: ``tandem.finish_reason`` of an answer the model could not give (the sources come alone)
LLM_UNAVAILABLE = "llm_unavailable"


def _extension(result: AnswerResult) -> dict[str, Any]:
    body = result.as_dict()
    body.pop("answer", None)
    body["finish_reason"] = "stop" if result.answer is not None else LLM_UNAVAILABLE
    return body


def _chunk(
    cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@router.get("/v1/models", responses={**LIMITED, **UNAUTHORISED})
async def models(llm: LLMDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": llm.model_id, "object": "model", "owned_by": "tandem"}],
    }


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={200: {"content": {"application/json": {}, **SSE_CONTENT}}, **V1},
)
async def chat_completions(
    body: ChatCompletionBody,
    pipeline: PipelineDep,
    settings: SettingsDep,
    experiments: ExperimentsDep,
    llm: LLMDep,
    http: Request,
) -> Response:
    question = body.question().strip()
    if not question:
        raise InvalidInputError("messages", "needs a user message with text")
    limit = settings.max_question_chars
    if len(question) > limit:
        raise InvalidInputError("messages", f"last user message is over {limit} characters")
    query_id = uuid.uuid4().hex
    assigned = experiments.assign(
        user_id=body.user,
        header=http.headers.get(VARIANT_HEADER),
        query_id=query_id,
        debug_key=http.headers.get(DEBUG_KEY_HEADER),
    )
    request = AnswerRequest(
        question=question,
        user_id=body.user,
        variant=assigned.name,
        query_id=query_id,
        client=http.scope.get(CLIENT_KEY),
        forced=assigned.forced,
    )
    headers = {VARIANT_HEADER: assigned.name}
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = llm.model_id
    if not body.stream:
        try:
            result = await unless_client_leaves(http.receive, pipeline.answer(request))
        except ClientDisconnect:  # gone while its answer was computed: the generation stopped
            return Response(status_code=CLIENT_GONE_STATUS)
        return JSONResponse(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "tandem": _extension(result),
            },
            headers=headers,
        )
    events = pipeline.stream(request)
    try:
        first = await unless_client_leaves(http.receive, anext(events))
    except ClientDisconnect:
        await events.aclose()
        return Response(status_code=CLIENT_GONE_STATUS)

    async def frames() -> AsyncIterator[bytes]:
        yield sse(None, _chunk(cid, created, model, {"role": "assistant", "content": ""}, None))
        event: StreamEvent | None = first
        while event is not None:
            if event.kind == "token":
                yield sse(None, _chunk(cid, created, model, {"content": event.text}, None))
            elif event.result is not None:
                last = _chunk(cid, created, model, {}, "stop")
                last["tandem"] = _extension(event.result)
                yield sse(None, last)
            event = await anext(events, None)
        yield sse(None, "[DONE]")

    return StreamingResponse(
        closing(frames(), events),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **headers},
    )
