"""Request bodies. Types are strict: a number where text belongs is a 422, never coerced.

The declared schemas (``/openapi.json``) say what the code accepts: a body valid by its schema is
never refused with a 4xx other than the deployment's body size (413) and rate limits (429);
:func:`document_limits` adds the limits that come from settings (``max_question_chars``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictStr,
    field_validator,
)

#: "has a character that is not whitespace", as the schemas' ``pattern`` and in code
NOT_BLANK = r"\S"
#: declared (not enforced) bounds of a chat body, so that the schema's largest body stays small
_CHAT_MESSAGES_MAX = 8
_CHAT_PARTS_MAX = 4


#: JSON Schema's (ECMA-262's) white space and line terminators: what ``\S`` in the schemas does
#: not match. Python's ``str.strip()`` also takes \x1c-\x1f and \x85 for blanks, so a question
#: of one such character fit the documented pattern and still got 422; the routes strip these.
SCHEMA_WHITESPACE = (
    "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def strip_blank(v: str) -> str:
    r"""``v`` without the leading and trailing white space the schemas' ``\S`` knows."""
    return v.strip(SCHEMA_WHITESPACE)


def _not_blank(v: str) -> str:
    if not strip_blank(v):
        raise ValueError("must not be empty")
    return v


def valid_text(v: str) -> str:
    """Text that is Unicode as UTF-8 can carry: JSON's ``\\udfff`` escape decodes to a lone
    surrogate, which no encoder takes further (the upstream LLM client failed on it, opening the
    circuit breaker for every client): refused here as bad input, a 422."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"must be valid Unicode text (a lone surrogate at position {exc.start})"
        ) from None
    return v


#: request text: strict (no number taken as text) and valid Unicode
Text = Annotated[StrictStr, AfterValidator(valid_text)]


def _integral(v: Any) -> Any:
    """``1.0`` is an integer to JSON (and JSON Schema): take it as ``1``; ``0.5`` stays refused."""
    if type(v) is float and v.is_integer():
        return int(v)
    return v


# integers as JSON writes them (``1`` or ``1.0``), never a string or a boolean; the bounds sit
# before the validator so that the schema says ``minimum``/``maximum``
TopK = Annotated[int, Strict(), Field(ge=1, le=50), BeforeValidator(_integral)]
Rating = Annotated[int, Strict(), Field(ge=-1, le=1), BeforeValidator(_integral)]
MaxTokens = Annotated[int, Strict(), Field(ge=1, le=4096), BeforeValidator(_integral)]
#: OpenAI's ranges; a ``seed`` is any 64-bit signed integer
Temperature = Annotated[StrictFloat, Field(ge=0, le=2)]
TopP = Annotated[StrictFloat, Field(ge=0, le=1)]
Seed = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1), BeforeValidator(_integral)]
StopString = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(valid_text)]
#: OpenAI's bound on stop strings
STOP_MAX = 4


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # documented as "not blank" (pattern); the validator refuses a blank one in words
    question: Text = Field(json_schema_extra={"pattern": NOT_BLANK})
    top_k: TopK | None = None
    stream: StrictBool = False
    user_id: Text | None = Field(default=None, max_length=200)
    refine: StrictBool = False

    _blank = field_validator("question")(_not_blank)


class FeedbackBody(BaseModel):
    query_id: Text = Field(min_length=1, max_length=100)
    rating: Rating = Field(description="-1 bad, 0 neutral, 1 good")
    comment: Text | None = Field(default=None, max_length=4000)


class ChatMessageBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    @field_validator("content")
    @classmethod
    def _valid_content(cls, v: Any) -> Any:
        if isinstance(v, str):
            return valid_text(v)
        for part in v or ():
            for value in part.values():
                if isinstance(value, str):
                    valid_text(value)
        return v

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictBool = Field(
        default=False, description="a last chunk with the usage and no choices, as OpenAI sends"
    )


class ChatCompletionBody(BaseModel):
    """OpenAI's chat request. Tandem's differences: ``temperature`` defaults to 0 (greedy
    decoding: the same question, the same answer) where OpenAI's is 1; ``n`` is 1; other
    OpenAI fields (penalties, tools, logprobs, response_format) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: Text = Field(default="tandem", max_length=200, description="one of /v1/models")
    messages: list[ChatMessageBody] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    max_tokens: MaxTokens | None = Field(
        default=None, description="answer length cap in tokens (deprecated by OpenAI)"
    )
    max_completion_tokens: MaxTokens | None = Field(
        default=None, description="answer length cap in tokens; wins over max_tokens"
    )
    temperature: Temperature | None = Field(default=None, description="0 (default): greedy")
    top_p: TopP | None = Field(default=None, description="nucleus sampling (temperature > 0)")
    stop: StopString | Annotated[list[StopString], Field(max_length=STOP_MAX)] | None = Field(
        default=None, description=f"up to {STOP_MAX} strings; the answer ends before the first"
    )
    seed: Seed | None = Field(default=None, description="repeats a sampled answer, best effort")
    n: Annotated[int, Strict(), Field(ge=1, le=1), BeforeValidator(_integral)] | None = Field(
        default=None, description="answers to give: 1"
    )
    user: Text | None = Field(default=None, max_length=200)

    def question(self) -> str:
        """The last user message with text (``""`` when there is none): the schema declares that
        one such message is required (``contains``)."""
        for message in reversed(self.messages):
            if message.role == "user" and strip_blank(message.text()):
                return message.text()
        return ""


def document_limits(
    spec: dict[str, Any],
    *,
    max_question_chars: int,
    max_tokens_limit: int = 4096,
    models: list[str] | None = None,
) -> dict[str, Any]:
    """``spec`` (the app's OpenAPI document) with the request rules pydantic cannot declare:
    the question's length cap, the largest ``max_tokens``, the ``model`` names served and, for
    a chat, the user message with text it needs."""
    limit = max_question_chars
    query = spec["paths"]["/v1/query"]["post"]["requestBody"]["content"]["application/json"]
    query["schema"]["properties"]["question"]["maxLength"] = limit
    schemas = spec["components"]["schemas"]
    part = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "text": {"type": "string", "maxLength": limit // _CHAT_PARTS_MAX},
        },
    }
    schemas["ChatMessageBody"]["properties"]["content"] = {
        "anyOf": [
            {"type": "string", "maxLength": limit},
            {"type": "array", "items": part, "maxItems": _CHAT_PARTS_MAX},
            {"type": "null"},
        ],
        "description": "text, or OpenAI content parts (the text of the type=text parts)",
    }
    chat = schemas["ChatCompletionBody"]["properties"]
    if models:
        chat["model"]["enum"] = list(models)
    for name in ("max_tokens", "max_completion_tokens"):
        for choice in chat[name].get("anyOf", [chat[name]]):
            if choice.get("type") == "integer":
                choice["maximum"] = max_tokens_limit
    messages = chat["messages"]
    messages["maxItems"] = _CHAT_MESSAGES_MAX
    messages["contains"] = {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"const": "user"},
            "content": {"type": "string", "pattern": NOT_BLANK, "maxLength": limit},
        },
    }
    messages["description"] = (
        "the question is the last user message with text; at least one is required"
    )
    return spec
