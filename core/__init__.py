"""Tandem's shared core: what the offline and online sides both run.

The encoder, the index format (writer and reader), search and fusion, the answer-cache keys and
codec, the prompt, the LLM backends and the one answer computation (:mod:`core.answering`).
Imports only ``shared_schemas``; ``batch`` and ``online`` import it, never the reverse.
"""
