"""The online side's errors. They know nothing of HTTP: ``online.api.errors`` maps them."""

from __future__ import annotations

from core.errors import (
    CacheSlowError,
    CacheUnavailableError,
    CoreError,
    LLMError,
    LLMTimeoutError,
    LLMUnavailableError,
)

__all__ = [
    "CacheSlowError",
    "CacheUnavailableError",
    "CoreError",
    "InvalidInputError",
    "JobNotFoundError",
    "LLMError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "NoIndexError",
    "OnlineError",
    "OverloadedError",
    "RateLimitedError",
]


class OnlineError(Exception):
    """Base of every error the online service raises on purpose."""


class InvalidInputError(OnlineError):
    """A request field is unacceptable; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NoIndexError(OnlineError):
    """No index version is loaded yet, so nothing can be retrieved."""


class OverloadedError(OnlineError):
    """Too many generations are waiting; the caller should retry later."""

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class JobNotFoundError(OnlineError):
    """No refinement job with that id."""


class RateLimitedError(OnlineError):
    """A client went over one of its limits (``bucket``); it may retry after ``retry_after_s``."""

    def __init__(self, bucket: str, *, retry_after_s: int) -> None:
        self.bucket = bucket
        self.retry_after_s = retry_after_s
        super().__init__(f"rate limit of {bucket} exceeded; retry after {retry_after_s}s")
