"""Admin routes behind a bearer token; with no token configured they do not exist (404)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, StrictBool

from core.artifacts import check_version_name
from core.cache.codec import CacheScope
from online.api.deps import CacheDep, IndexesDep, PipelineDep, ReloaderDep, SettingsDep
from online.api.responses import ADMIN, UNAVAILABLE, PurgeResult, ReloadResult
from online.api.schemas import Text

router = APIRouter(prefix="/admin", tags=["admin"])


async def require_admin(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    token = settings.admin_token
    if token is None or not token.get_secret_value():
        raise HTTPException(status_code=404, detail="Not Found")
    expected = f"Bearer {token.get_secret_value()}".encode()
    # Compared as bytes: a header with non-ASCII characters is a wrong token, never a 500.
    given = None if authorization is None else authorization.encode("utf-8", "surrogateescape")
    if given is None or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status_code=401,
            detail="admin bearer token required",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Annotated[None, Depends(require_admin)]


class ReloadBody(BaseModel):
    version: Text | None = None
    force: StrictBool = False


class PurgeBody(BaseModel):
    #: a version name (letters, digits, ``._-``): never a pattern (``*`` acted as a glob and
    #: purged every version's answers)
    index_version: Annotated[Text, AfterValidator(check_version_name)] | None = None
    all: StrictBool = False


@router.post(
    "/reload",
    response_model=None,
    responses={200: {"model": ReloadResult}, 409: {"model": ReloadResult}, **ADMIN},
)
async def reload(
    _: AdminDep,
    reloader: ReloaderDep,
    indexes: IndexesDep,
    body: ReloadBody | None = None,
) -> JSONResponse:
    body = body or ReloadBody()
    outcome = await reloader.reload(body.version, force=body.force)
    current = indexes.current
    payload: dict[str, Any] = {
        "requested": outcome.version,
        "swapped": outcome.swapped,
        "serving": current.version if current else None,
        "error": outcome.error,
        "pinned": outcome.pinned,
    }
    return JSONResponse(payload, status_code=409 if outcome.error else 200)


@router.post("/cache/purge", response_model=PurgeResult, responses={**ADMIN, **UNAVAILABLE})
async def purge(
    _: AdminDep,
    indexes: IndexesDep,
    pipeline: PipelineDep,
    cache: CacheDep,
    body: PurgeBody | None = None,
) -> dict[str, Any]:
    body = body or PurgeBody()
    scope = None
    if not body.all:
        version = body.index_version or indexes.require().version
        scope = pipeline.scope(version)
    removed = await cache.purge(scope)
    return {"removed": removed, "scope": "all" if scope is None else _describe(scope)}


def _describe(scope: CacheScope) -> dict[str, str]:
    return {
        "index_version": scope.index_version,
        "embedding_model": scope.embedding_model,
        "llm_model": scope.llm_model,
        "prompt_version": scope.prompt_version,
    }
