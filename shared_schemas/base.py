"""Versioned, frozen pydantic models shared by the offline and online sides.

Every contract carries an explicit ``schema_version``.  Readers go through
:func:`read_model` / :meth:`VersionedModel.parse`, which accept the versions a
model knows (upgrading older ones through registered migrations) and refuse the
rest with :class:`SchemaVersionError`, a typed error whose message names both
the version found and the versions supported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class SchemaError(ValueError):
    """A payload could not be read as the expected contract."""


class SchemaVersionError(SchemaError):
    """A payload carries a schema version this reader does not know."""

    def __init__(self, model: str, found: object, supported: tuple[int, ...]) -> None:
        self.model = model
        self.found = found
        self.supported = supported
        wanted = ", ".join(str(v) for v in supported)
        super().__init__(
            f"{model}: schema_version {found!r} is not supported by this reader "
            f"(it reads version {wanted}); upgrade the reader or re-export the data"
        )


Migration = Callable[[dict[str, Any]], dict[str, Any]]


class VersionedModel(BaseModel):
    """Base for every shared contract: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SCHEMA_VERSION: ClassVar[int] = 1
    #: migrations from an older version to the next one: ``{old: fn(payload) -> payload}``
    MIGRATIONS: ClassVar[Mapping[int, Migration]] = {}

    schema_version: int = 1

    @classmethod
    def supported_versions(cls) -> tuple[int, ...]:
        return tuple(sorted({*cls.MIGRATIONS.keys(), cls.SCHEMA_VERSION}))

    @classmethod
    def parse(cls, data: Mapping[str, Any] | str | bytes) -> Self:
        """Read a payload of any supported version, upgrading it to the current one."""
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{cls.__name__}: payload is not JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise SchemaError(f"{cls.__name__}: payload must be an object, got {type(data)}")
        payload = dict(data)
        version = payload.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise SchemaVersionError(cls.__name__, version, cls.supported_versions())
        while version != cls.SCHEMA_VERSION:
            migrate = cls.MIGRATIONS.get(version)
            if migrate is None:
                raise SchemaVersionError(cls.__name__, version, cls.supported_versions())
            payload = migrate(payload)
            version = payload["schema_version"]
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise SchemaError(f"{cls.__name__} v{version}: {exc}") from exc

    def dumps(self) -> str:
        """JSON text of the model, the form written to Redis and files."""
        return self.model_dump_json()

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return cls.model_json_schema(mode="serialization")


M = TypeVar("M", bound=VersionedModel)


def read_model(model: type[M], data: Mapping[str, Any] | str | bytes) -> M:
    """Functional spelling of :meth:`VersionedModel.parse`."""
    return model.parse(data)
