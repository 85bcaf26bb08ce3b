"""The one error the release steps raise; the commands turn it into a message and exit 1."""

from __future__ import annotations


class ReleaseError(Exception):
    """A release step cannot be done (bad manifest, no previous track, kubectl failed)."""
