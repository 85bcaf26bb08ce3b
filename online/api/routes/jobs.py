"""GET /v1/jobs/{id}: status and result of a refinement job (JSON, or SSE until it settles)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from online.api.deps import RedisDep
from online.api.responses import NOT_FOUND, SSE_CONTENT, V1
from online.api.routes.sse import SSE_HEADERS, sse
from online.errors import JobNotFoundError
from online.refine.jobs import JobStatus, read_status

router = APIRouter(tags=["jobs"])


@router.get("/v1/jobs/{job_id}", response_model=JobStatus, responses={**NOT_FOUND, **V1})
async def job(job_id: str, redis: RedisDep) -> dict[str, Any]:
    status = await read_status(redis, job_id)
    if status is None:
        raise JobNotFoundError(f"no refinement job {job_id!r} (unknown or expired)")
    return status.model_dump(mode="json")


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": SSE_CONTENT}, **NOT_FOUND, **V1},
)
async def job_events(job_id: str, redis: RedisDep) -> StreamingResponse:
    """SSE: one ``status`` event per change until the job is done or failed."""
    first = await read_status(redis, job_id)
    if first is None:
        raise JobNotFoundError(f"no refinement job {job_id!r} (unknown or expired)")
    poll = 0.5

    async def frames() -> AsyncIterator[bytes]:
        status: JobStatus | None = first
        last = ""
        while status is not None:
            text = status.model_dump_json()
            if text != last:
                yield sse("status", text)
                last = text
            if status.status in ("done", "failed"):
                return
            await asyncio.sleep(poll)
            status = await read_status(redis, job_id)

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)
