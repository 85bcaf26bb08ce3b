"""Operational routes: /healthz, /readyz, /metrics, GET /v1/index."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from core.redis_clients import deadline
from online.api.deps import (
    ExperimentsDep,
    IndexesDep,
    LLMDep,
    MetricsDep,
    RedisDep,
    RedisProbeDep,
    SettingsDep,
)
from online.api.responses import V1
from online.errors import NoIndexError
from shared_schemas.layout import FRESHNESS_KEY

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


_PATH = re.compile(r"(?:/[\w.@+-]+)+/([\w.@+-]+)")


def without_paths(message: str) -> str:
    """``message`` with each absolute path cut to its last part: ``/readyz`` is public and the
    machine's layout is not (issue 27 item 6); the log keeps the whole message."""
    return _PATH.sub(r".../\1", message)


@router.get(
    "/readyz",
    response_model=None,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        503: {"description": "Not ready"},
    },
)
async def readyz(
    indexes: IndexesDep,
    redis_ok: RedisProbeDep,
    settings: SettingsDep,
    llm: LLMDep,
    experiments: ExperimentsDep,
    http: Request,
) -> JSONResponse:
    """200 when an index is loaded and verified and the models are loaded; Redis is reported
    (the service answers without it, degraded), as is the last failed reload. 503 while the
    replica drains before it stops (``online/server.py``), though it still answers."""
    state = indexes.current
    draining = bool(getattr(http.app.state, "draining", False))
    redis_up = await redis_ok()
    body: dict[str, Any] = {
        "ready": state is not None and not draining,
        "index": None
        if state is None
        else {
            "version": state.version,
            "verified": True,
            "age_s": round(state.age_s(), 1),
            "pinned": indexes.pinned is not None,
        },
        "models": {
            "embed": settings.embedding_model,
            "llm": llm.model_id,
            "llm_ready": llm.ready(),
        },
        "redis": "up" if redis_up else "down",
        "variants": dict(experiments.router.weights()),
    }
    if indexes.last_error:
        body["reload_error"] = {
            "version": indexes.last_error_version,
            "error": without_paths(indexes.last_error),
        }
    if state is None:
        body["message"] = "no index version is loaded"
    if draining:
        body["message"] = "draining: shutting down"
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(
    m: MetricsDep, indexes: IndexesDep, redis_ok: RedisProbeDep, redis: RedisDep
) -> Response:
    state = indexes.current
    m.set_index(state.version if state else None, state.age_s() if state else None)
    if await redis_ok():
        try:
            async with deadline():
                raw = await redis.hgetall(FRESHNESS_KEY)
            m.set_freshness(_numeric(raw))
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("freshness figures unavailable: %s", exc)
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)


def _numeric(raw: dict[Any, Any]) -> dict[str, float]:
    out = {}
    for k, v in raw.items():
        key = k.decode() if isinstance(k, bytes) else str(k)
        try:
            out[key] = float(v)
        except (TypeError, ValueError):
            continue
    return out


@router.get("/v1/index", responses=V1)
async def index(indexes: IndexesDep) -> dict[str, Any]:
    state = indexes.require()
    if state is None:
        raise NoIndexError("no index version is loaded")
    return {
        "version": state.version,
        "loaded_at": state.loaded_at,
        "age_s": round(state.age_s(), 1),
        "manifest": state.index.manifest.model_dump(mode="json"),
    }
