"""Annotated dependencies: routes receive adapters, they never construct clients.

All are ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool, a thread hop
per request that the cache-hit path cannot afford."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from online.components import Components
from online.pipeline import AnswerPipeline
from online.settings import OnlineSettings


async def get_components(request: Request) -> Components:
    components: Components = request.app.state.components
    return components


async def get_pipeline(request: Request) -> AnswerPipeline:
    components: Components = request.app.state.components
    return components.pipeline


async def get_settings_dep(request: Request) -> OnlineSettings:
    components: Components = request.app.state.components
    return components.settings


ComponentsDep = Annotated[Components, Depends(get_components)]
PipelineDep = Annotated[AnswerPipeline, Depends(get_pipeline)]
SettingsDep = Annotated[OnlineSettings, Depends(get_settings_dep)]
