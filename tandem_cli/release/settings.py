"""The release commands' settings object (env prefix ``TANDEM_``).

Only ``tandem release`` reads these, so they live apart from the batch and online settings;
the variable names are those the batch settings carried before (``TANDEM_KUBE_CONTEXT``,
``TANDEM_RELEASE_MANIFEST``, ``TANDEM_ROLLOUT_TIMEOUT_S``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared_schemas.config import project_root


class ReleaseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TANDEM_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    kube_context: str | None = Field(
        default=None, description="kubectl context; set: release commands also apply."
    )
    release_manifest: Path = Field(
        default_factory=lambda: (
            project_root() / "docker" / "k8s" / "base" / "online" / "service.yaml"
        ),
        description="The blue-green Service manifest that release commands edit.",
    )
    rollout_timeout_s: int = Field(default=300, gt=0, description="kubectl rollout status wait.")


@lru_cache
def get_release_settings() -> ReleaseSettings:
    return ReleaseSettings()
