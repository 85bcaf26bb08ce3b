"""What the batch commands share: their settings, the demo corpus as the default labelled set,
and the batch errors that are the user's to fix (a message and exit 1, not a traceback)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from tandem_cli.common import setup, user_errors

if TYPE_CHECKING:
    from batch.settings import BatchSettings


def settings() -> BatchSettings:
    from batch.settings import get_settings

    loaded = get_settings()
    setup(loaded)
    return loaded


def default_labelled() -> Path:
    from batch.corpus import locate_demo_corpus

    configured = settings()
    return locate_demo_corpus(configured.demo_corpus, data_dir=configured.data_dir)


def errors(*more: type[BaseException]) -> AbstractContextManager[None]:
    """The errors of batch and core that are the user's to fix (a message, exit 1), and
    ``more`` of the calling command's."""
    from batch.errors import BatchError
    from core.errors import CoreError

    return user_errors(BatchError, CoreError, *more)
