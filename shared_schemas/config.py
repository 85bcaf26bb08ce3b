"""Settings fields both sides share (data dir, Redis, models).

Each side has exactly one settings object that extends :class:`CommonSettings`
(``batch.settings.BatchSettings``, ``online.settings.OnlineSettings``); all are
read from the environment with the ``TANDEM_`` prefix, environment over defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDING_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
LLM_MODEL_ID = "SmolLM2-135M-Instruct-Q4_1"


def project_root() -> Path:
    """The checkout this package runs from (or the working directory when installed)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TANDEM_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default_factory=lambda: project_root() / "var",
        description="Where every offline output and local state goes; nothing is written outside.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis for the live-index pointer, hot answers, query log and jobs.",
    )
    embedding_model: str = Field(
        default=EMBEDDING_MODEL_ID, description="Id of the embedding model recorded everywhere."
    )
    embedding_model_path: Path | None = Field(
        default=None,
        description="Local sentence-transformers folder; default: the bundled all-MiniLM-L6-v2.",
    )
    llm_gguf_path: Path | None = Field(
        default=None, description="GGUF file of the local LLM; default: the bundled SmolLM2-135M."
    )
    llm_model: str = Field(default=LLM_MODEL_ID, description="Id of the LLM recorded everywhere.")
    prompt_version: str = Field(default="p1", description="Version of the answer prompt.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Torch device for models: auto picks cuda when available."
    )
    log_level: str = Field(default="INFO", description="Log level.")
    log_json: bool = Field(default=False, description="Structured JSON log lines.")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return v

    @property
    def indexes_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def embeddings_dir(self) -> Path:
        return self.data_dir / "embeddings"
