"""Operational routes: /healthz, /readyz, /metrics, GET /v1/index."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from online.api.deps import ComponentsDep
from online.errors import NoIndexError
from online.redis_conn import deadline
from shared_schemas.layout import FRESHNESS_KEY

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", response_model=None)
async def readyz(components: ComponentsDep) -> JSONResponse:
    """200 when an index is loaded and verified and the models are loaded; Redis is reported
    (the service answers without it, degraded), as is the last failed reload."""
    state = components.indexes.current
    redis_up = await components.redis_ok()
    holder = components.indexes
    body: dict[str, Any] = {
        "ready": state is not None,
        "index": None
        if state is None
        else {"version": state.version, "verified": True, "age_s": round(state.age_s(), 1)},
        "models": {
            "embed": components.settings.embedding_model,
            "llm": components.llm.model_id,
            "llm_ready": components.llm.ready(),
        },
        "redis": "up" if redis_up else "down",
        "variants": dict(components.experiments.router.weights()),
    }
    if holder.last_error:
        body["reload_error"] = {"version": holder.last_error_version, "error": holder.last_error}
    if state is None:
        body["message"] = "no index version is loaded"
    return JSONResponse(body, status_code=200 if state is not None else 503)


@router.get("/metrics")
async def metrics(components: ComponentsDep) -> Response:
    m = components.metrics
    state = components.indexes.current
    m.set_index(state.version if state else None, state.age_s() if state else None)
    if await components.redis_ok():
        try:
            async with deadline():
                raw = await components.redis.hgetall(FRESHNESS_KEY)
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


@router.get("/v1/index")
async def index(components: ComponentsDep) -> dict[str, Any]:
    state = components.indexes.require()
    if state is None:
        raise NoIndexError("no index version is loaded")
    return {
        "version": state.version,
        "loaded_at": state.loaded_at,
        "age_s": round(state.age_s(), 1),
        "manifest": state.index.manifest.model_dump(mode="json"),
    }
