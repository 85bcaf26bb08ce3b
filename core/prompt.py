"""The answer prompt. Its version (``settings.prompt_version``) is part of every cache key, so
change ``PROMPTS`` by adding a version, never by editing one in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.index import Hit
from core.llm.base import ChatMessage


@dataclass(frozen=True)
class PromptTemplate:
    system: str
    context_chars: int  # per chunk, to bound the prompt


PROMPTS: dict[str, PromptTemplate] = {
    "p1": PromptTemplate(
        system=(
            "You answer questions using only the numbered context passages. "
            "Answer in one short sentence. If the passages do not contain the answer, "
            "say that you do not know."
        ),
        context_chars=700,
    ),
    "p2": PromptTemplate(  # terser answers, for A/B experiments against p1
        system=(
            "Answer the question with the shortest phrase from the numbered context passages, "
            "not a sentence. If the passages do not contain the answer, say that you do not know."
        ),
        context_chars=700,
    ),
}


class UnknownPromptError(ValueError):
    """The configured prompt version is not defined."""


def build_messages(
    question: str, hits: Sequence[Hit], *, prompt_version: str, context_chars: int | None = None
) -> list[ChatMessage]:
    """System instructions, then the question with the retrieved chunks as numbered context."""
    template = PROMPTS.get(prompt_version)
    if template is None:
        raise UnknownPromptError(
            f"prompt version {prompt_version!r} is unknown (known: {', '.join(PROMPTS)})"
        )
    limit = context_chars or template.context_chars
    blocks = []
    for i, hit in enumerate(hits, 1):
        text = hit.text if len(hit.text) <= limit else hit.text[:limit].rsplit(" ", 1)[0] + " …"
        head = f"[{i}] {hit.title}" if hit.title else f"[{i}]"
        blocks.append(f"{head}\n{text}")
    context = "\n\n".join(blocks) if blocks else "(no passages found)"
    return [
        {"role": "system", "content": template.system},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]
