"""Annotated dependencies: routes receive adapters, they never construct clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from online.components import Components
from online.pipeline import AnswerPipeline
from online.settings import OnlineSettings


def get_components(request: Request) -> Components:
    components: Components = request.app.state.components
    return components


def get_pipeline(request: Request) -> AnswerPipeline:
    return get_components(request).pipeline


def get_settings_dep(request: Request) -> OnlineSettings:
    return get_components(request).settings


ComponentsDep = Annotated[Components, Depends(get_components)]
PipelineDep = Annotated[AnswerPipeline, Depends(get_pipeline)]
SettingsDep = Annotated[OnlineSettings, Depends(get_settings_dep)]
