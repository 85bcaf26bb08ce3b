"""POST /v1/chat/completions: the OpenAI chat API over the same pipeline, so the official
``openai`` client and tools built on it work unchanged (what each field does:
:mod:`online.api.openai_chat`; errors in OpenAI's shape: :mod:`online.api.openai_errors`).

A miss with the LLM down follows the rule of ``/v1/query``: 200 with the sources and no answer —
``message.content`` is ``null``, ``finish_reason`` stays ``"stop"`` (OpenAI's values have none
for "no model"), and the ``tandem`` extension says ``finish_reason: "llm_unavailable"`` with the
``degraded`` reason, as ``/v1/query`` says ``answer: null`` and ``degraded``.

``usage`` counts the tokens of the prompt the model read (its tokenizer, chat template applied;
an upstream's own figures) and of the answer it wrote; a cached answer ran no model: 0 and 0.
``stream_options.include_usage`` adds OpenAI's last chunk: ``choices`` empty, the ``usage``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from online.answering.context import StreamEvent
from online.answering.request import new_request
from online.answers import AnswerResult
from online.api.deps import ExperimentsDep, LLMDep, PipelineDep, SettingsDep
from online.api.disconnect import CLIENT_GONE_STATUS, closing, unless_client_leaves
from online.api.limits import CLIENT_KEY
from online.api.openai_chat import generation_of, served_models, usage
from online.api.openai_errors import openai_error
from online.api.responses import OPENAI_LISTED, OPENAI_V1, SSE_CONTENT
from online.api.routes.sse import SSE_HEADERS, sse
from online.api.schemas import ChatCompletionBody, strip_blank
from online.errors import InvalidInputError
from online.experiments import DEBUG_KEY_HEADER, VARIANT_HEADER

router = APIRouter(tags=["openai"])


#: ``tandem.finish_reason`` of an answer the model could not give (the sources come alone)
LLM_UNAVAILABLE = "llm_unavailable"


def _extension(result: AnswerResult) -> dict[str, Any]:
    body = result.as_dict()
    body.pop("answer", None)
    body["finish_reason"] = "stop" if result.answer is not None else LLM_UNAVAILABLE
    return body


def _chunk(
    cid: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None,
    *,
    with_usage: bool = False,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if with_usage:  # OpenAI: every chunk says "usage": null, the last one gives it
        chunk["usage"] = None
    return chunk


@router.get("/v1/models", responses=OPENAI_LISTED)
async def models(llm: LLMDep) -> dict[str, Any]:
    """The names ``model`` may take: the service's model and the alias ``tandem``."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "tandem"}
            for name in served_models(llm.model_id)
        ],
    }


def _model_not_found(model: str, known: list[str]) -> Response:
    return openai_error(
        404,
        f"The model {model!r} does not exist here; known: {', '.join(known)} (GET /v1/models)",
        code="model_not_found",
        param="model",
    )


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={200: {"content": {"application/json": {}, **SSE_CONTENT}}, **OPENAI_V1},
)
async def chat_completions(
    body: ChatCompletionBody,
    pipeline: PipelineDep,
    settings: SettingsDep,
    experiments: ExperimentsDep,
    llm: LLMDep,
    http: Request,
) -> Response:
    known = served_models(llm.model_id)
    if body.model not in known:
        return _model_not_found(body.model, known)
    question = strip_blank(body.question())
    if not question:
        raise InvalidInputError("messages", "needs a user message with text")
    limit = settings.max_question_chars
    if len(question) > limit:
        raise InvalidInputError("messages", f"last user message is over {limit} characters")
    generation = generation_of(body, settings)
    request = new_request(
        experiments,
        question,
        user_id=body.user,
        variant_header=http.headers.get(VARIANT_HEADER),
        debug_key=http.headers.get(DEBUG_KEY_HEADER),
        client=http.scope.get(CLIENT_KEY),
        generation=generation,
    )
    headers = {VARIANT_HEADER: request.variant}
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
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
                "model": result.llm_model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.answer},
                        "logprobs": None,
                        "finish_reason": result.finish_reason,
                    }
                ],
                "usage": usage(result),
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

    with_usage = bool(body.stream_options and body.stream_options.include_usage)
    model = pipeline.arms[request.variant].llm_model

    async def frames() -> AsyncIterator[bytes]:
        role = {"role": "assistant", "content": ""}
        yield sse(None, _chunk(cid, created, model, role, None, with_usage=with_usage))
        event: StreamEvent | None = first
        while event is not None:
            if event.kind == "token":
                delta = {"content": event.text}
                yield sse(None, _chunk(cid, created, model, delta, None, with_usage=with_usage))
            elif event.result is not None:
                result = event.result
                last = _chunk(cid, created, model, {}, result.finish_reason, with_usage=with_usage)
                last["tandem"] = _extension(result)
                yield sse(None, last)
                if with_usage:
                    tail = _chunk(cid, created, model, {}, None)
                    tail["choices"], tail["usage"] = [], usage(result)
                    yield sse(None, tail)
            event = await anext(events, None)
        yield sse(None, "[DONE]")

    return StreamingResponse(
        closing(frames(), events),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **headers},
    )
