"""Embed: encode a snapshot's new chunks with a Spark job into the append-only vector store."""

from batch.embed.errors import EmbedError
from batch.embed.report import EmbedReport

__all__ = ["EmbedError", "EmbedReport"]
