"""The FastAPI application. ``create_app(settings)`` builds the real service; tests pass
``components`` (e.g. with a fake LLM) and the lifespan starts and stops them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from online.api import errors
from online.api.fastpath import ExactHitFastPath
from online.api.limits import RateLimitMiddleware
from online.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from online.api.openai_chat import served_models
from online.api.openai_errors import OpenAIErrorShape
from online.api.routes import admin, chat, feedback, jobs, ops, query
from online.api.schemas import document_limits
from online.components import Components, build_components
from online.metrics import ServiceMetrics
from online.settings import OnlineSettings

log = logging.getLogger(__name__)


def create_app(settings: OnlineSettings, *, components: Components | None = None) -> FastAPI:
    metrics = components.metrics if components is not None else ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = components
        if built is None:
            built = await asyncio.to_thread(build_components, settings, metrics=metrics)
        app.state.components = built
        await built.start()
        log.info("tandem online service started")
        try:
            yield
        finally:
            await built.stop()

    # no trailing-slash redirects: a 307 built its Location from the client's Host header
    # (reflected to any host a client names); ``/v1/query/`` is a 404 like any unknown path
    app = FastAPI(title="Tandem", version="1", lifespan=lifespan, redirect_slashes=False)
    errors.install(app)
    for module in (query, chat, feedback, jobs, ops, admin):
        app.include_router(module.router)
    _document_limits(app, settings)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(OpenAIErrorShape)  # outside the limits: their refusals are shaped too
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # outermost: exact hits skip the chain; it applies the body limit, the keys and the request
    # limit itself (decided once: a miss carries the decision to the limiter middleware)
    app.add_middleware(ExactHitFastPath)
    return app


def _document_limits(app: FastAPI, settings: OnlineSettings) -> None:
    """``/openapi.json`` with the limits of these settings (built once, then cached by FastAPI)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            components = getattr(app.state, "components", None)
            model = components.llm.model_id if components is not None else settings.llm_model
            app.openapi_schema = document_limits(
                build(),
                max_question_chars=settings.max_question_chars,
                max_tokens_limit=settings.max_tokens_limit,
                models=served_models(model),
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
