"""The root of the errors batch raises for its callers to report: a bad input, a missing
artifact or a refused step, each a message for the user rather than a traceback. The CLI maps
:class:`BatchError` once (``tandem_cli/batch_context.py``); each subclass also keeps the builtin
base (``RuntimeError`` or ``ValueError``) that callers caught before the hierarchy existed."""

from __future__ import annotations


class BatchError(Exception):
    """A batch step could not do what it was asked; the message says why and what to fix."""
