"""Request bodies. Types are strict: a number where text belongs is a 422, never coerced."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # documented as "not blank" (pattern); the validator refuses a blank one in words
    question: StrictStr = Field(json_schema_extra={"pattern": r"\S"})
    top_k: StrictInt | None = Field(default=None, ge=1, le=50)
    stream: StrictBool = False
    user_id: StrictStr | None = Field(default=None, max_length=200)
    refine: StrictBool = False

    _blank = field_validator("question")(_not_blank)


class FeedbackBody(BaseModel):
    query_id: StrictStr = Field(min_length=1, max_length=100)
    rating: StrictInt = Field(ge=-1, le=1)
    comment: StrictStr | None = Field(default=None, max_length=4000)


class ChatMessageBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatCompletionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: StrictStr = "tandem"
    messages: list[ChatMessageBody] = Field(min_length=1)
    stream: StrictBool = False
    max_tokens: StrictInt | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = None
    user: StrictStr | None = Field(default=None, max_length=200)

    def question(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        return ""
