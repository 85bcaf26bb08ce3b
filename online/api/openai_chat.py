"""From an OpenAI chat request to Tandem's answer request, and the usage figures back.

- the question is the last user message with text (retrieval uses it alone); system (and
  developer) messages are the client's instructions, put after Tandem's own in the prompt; the
  user and assistant turns before the question are its history, the latest ones kept within
  ``chat_history_chars`` (older turns are left out); tool messages are left out;
- ``max_completion_tokens`` (or ``max_tokens``) caps the answer, up to ``max_tokens_limit``;
- ``temperature`` 0 or unset is greedy decoding (``top_p`` and ``seed`` then change nothing);
  above 0 it samples with ``top_p`` and ``seed``; ``stop`` ends the answer before a stop string.

Only a request for the service's own answer (no system message, no history, greedy, no stop,
the default length) reads and writes the answer cache: the cache key holds the question and the
versions, not a conversation or decoding, so every other request is answered live and stored
nowhere (``online.answering.context.Framing.begin``).
"""

from __future__ import annotations

from typing import Any

from core.llm.base import ChatMessage, Sampling
from online.answers import AnswerResult, GenerationRequest
from online.api.schemas import ChatCompletionBody, strip_blank
from online.errors import InvalidInputError
from online.settings import OnlineSettings

#: the model name that always means "the service's answer", whatever model it runs
ALIAS = "tandem"


def served_models(default_model: str) -> list[str]:
    """What ``model`` may be: the service's model id, and the alias ``tandem``."""
    return [default_model, ALIAS] if default_model != ALIAS else [ALIAS]


def question_index(body: ChatCompletionBody) -> int:
    """Where the last user message with text is (-1: none)."""
    for i in range(len(body.messages) - 1, -1, -1):
        message = body.messages[i]
        if message.role == "user" and strip_blank(message.text()):
            return i
    return -1


def _recent(turns: list[ChatMessage], budget: int) -> list[ChatMessage]:
    """The latest whole ``turns`` whose text fits in ``budget`` characters, in order."""
    kept: list[ChatMessage] = []
    used = 0
    for turn in reversed(turns):
        used += len(turn["content"])
        if used > budget:
            break
        kept.append(turn)
    return kept[::-1]


def _sampling(body: ChatCompletionBody) -> Sampling | None:
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    temperature = body.temperature or 0.0
    if temperature == 0.0 and not stop:
        return None  # greedy decoding, the service's own
    return Sampling(
        temperature=temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        stop=stop,
        seed=body.seed,
    )


def generation_of(body: ChatCompletionBody, settings: OnlineSettings) -> GenerationRequest:
    """The conversation and decoding ``body`` asks for (raises ``InvalidInputError``)."""
    limit = settings.max_question_chars
    at = question_index(body)
    system: list[str] = []
    turns: list[ChatMessage] = []
    for i, message in enumerate(body.messages):
        text = message.text()
        if len(text) > limit:
            raise InvalidInputError("messages", f"message {i} is over {limit} characters")
        if not strip_blank(text):
            continue
        if message.role in ("system", "developer"):
            system.append(text)
        elif i < at and message.role in ("user", "assistant"):
            turns.append({"role": message.role, "content": text})
    for name in ("max_tokens", "max_completion_tokens"):  # both, whichever wins
        asked = getattr(body, name)
        if asked is not None and asked > settings.max_tokens_limit:
            raise InvalidInputError(name, f"is over {settings.max_tokens_limit}")
    cap = body.max_completion_tokens or body.max_tokens
    instructions = "\n\n".join(system)
    if len(instructions) > settings.chat_system_chars:
        raise InvalidInputError(
            "messages", f"system messages are over {settings.chat_system_chars} characters in all"
        )
    return GenerationRequest(
        system=instructions or None,
        history=tuple(_recent(turns, settings.chat_history_chars)),
        max_new_tokens=cap,
        sampling=_sampling(body),
    )


def usage(result: AnswerResult) -> dict[str, Any]:
    """OpenAI's ``usage``: the tokens the model read and wrote (none for a cache hit)."""
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }
