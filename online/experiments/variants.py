"""What a variant is and how a list of them is read from settings (JSON text)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_VARIANT = "default"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


class ExperimentError(Exception):
    """Base of every error in :mod:`online.experiments`."""


class VariantError(ExperimentError, ValueError):
    """A variant declaration is malformed (bad JSON, bad field, duplicate name)."""


class Variant(BaseModel):
    """One arm of an experiment: what changes the answer, and its share of traffic.

    ``None`` in a field means "the service default" (live index, settings' prompt, model…).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short id, on every response, metric and query-log event.")
    weight: float = Field(default=1.0, ge=0, description="Relative share of assigned traffic.")
    index_version: str | None = Field(default=None, description="Pinned index version.")
    prompt_version: str | None = Field(default=None, description="Answer prompt version.")
    llm_backend: Literal["engine", "local", "openai"] | None = Field(
        default=None, description="LLM side."
    )
    llm_model: str | None = Field(default=None, description="LLM id recorded in cache keys.")
    llm_url: str | None = Field(
        default=None, description="OpenAI-compatible URL of this arm's LLM (llm_backend openai)."
    )
    cache_namespace: str | None = Field(
        default=None, description="Hot-answer namespace; distinct per variant keeps caches apart."
    )
    baseline: bool = Field(default=False, description="The arm others are compared with.")

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"variant name {v!r} must match {_NAME.pattern} "
                "(lower-case letters, digits, '_', '.', '-')"
            )
        return v


def default_variants() -> tuple[Variant, ...]:
    """No experiment: one arm named ``default`` taking all traffic."""
    return (Variant(name=DEFAULT_VARIANT, weight=1.0, baseline=True),)


def check_variants(variants: Sequence[Variant]) -> tuple[Variant, ...]:
    """Validate a declared list: unique names, at most one baseline, some weight somewhere.

    The first variant is the baseline unless one says ``"baseline": true``.
    """
    if not variants:
        return default_variants()
    names = [v.name for v in variants]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise VariantError(f"duplicate variant names: {', '.join(dupes)}")
    flagged = [v for v in variants if v.baseline]
    if len(flagged) > 1:
        raise VariantError(
            "only one variant may be the baseline, got: " + ", ".join(v.name for v in flagged)
        )
    if sum(v.weight for v in variants) <= 0:
        raise VariantError("at least one variant needs a weight above 0")
    if not flagged:
        first = variants[0].model_copy(update={"baseline": True})
        return (first, *variants[1:])
    return tuple(variants)


def parse_variants(json_text: str | None) -> tuple[Variant, ...]:
    """Read the ``TANDEM_VARIANTS`` JSON text (a list of objects) into checked variants.

    Empty or missing text means no experiment (one ``default`` arm).
    """
    if json_text is None or not json_text.strip():
        return default_variants()
    try:
        raw = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise VariantError(f"variants: not JSON ({exc.msg} at char {exc.pos})") from exc
    if not isinstance(raw, list):
        raise VariantError(f"variants: expected a JSON list of objects, got {type(raw).__name__}")
    out: list[Variant] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise VariantError(f"variants[{i}]: expected an object, got {type(item).__name__}")
        try:
            out.append(Variant.model_validate(item))
        except ValidationError as exc:
            errs = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'variant'}: {e['msg']}"
                for e in exc.errors()
            )
            raise VariantError(f"variants[{i}]: {errs}") from exc
    return check_variants(out)
