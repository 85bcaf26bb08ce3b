"""The core's errors. They know nothing of HTTP: ``online.api.errors`` maps them to codes."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the shared core raises on purpose."""


class IndexLoadError(CoreError):
    """An index version could not be loaded or did not verify."""


class EmbeddingModelError(CoreError, RuntimeError):
    """The embedding model could not be found or loaded."""


class ArtifactNotFoundError(CoreError, FileNotFoundError):
    """An artifact store holds no such version or file."""


class CacheUnavailableError(CoreError):
    """Redis could not be reached or answered badly; callers degrade to a live answer."""


class CacheSlowError(CacheUnavailableError):
    """Redis accepted the command but gave no answer within the wait budget (slow, not down)."""


class LLMError(CoreError):
    """The language model failed to produce an answer."""


class LLMUnavailableError(LLMError):
    """The model is not loaded, the upstream is unreachable or its circuit is open."""


class LLMTimeoutError(LLMError):
    """The model did not answer in time."""


class LLMPromptTooLongError(LLMError):
    """The prompt does not fit the model's context: the request's fault (its conversation is
    too long), not the model's; a client error, never a breaker event."""


class IndexBuildError(CoreError, RuntimeError):
    """An index version could not be built from its chunks and vectors."""


class ModelError(CoreError):
    """A model of the catalog cannot be used (not installed, not in the catalog, corrupt)."""


class ModelNotInCatalogError(ModelError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelNotInstalledError(ModelError, FileNotFoundError):
    pass


class ModelVerificationError(ModelError):
    """The bytes of a model do not match the catalog's sha256 or size: refused, nothing kept."""
