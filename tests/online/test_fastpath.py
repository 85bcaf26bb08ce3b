"""The exact-hit fast path's quick body checks and its hand-assembled JSON (no I/O)."""

from __future__ import annotations

import json

import pytest

from online.answers import AnswerResult, Source, new_query_id, render_sources
from online.api.fastpath import quick_body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"question": " Hi? "}, ("Hi?", None, None)),
        ({"question": "Hi?", "top_k": 3, "user_id": "u", "x": 1}, ("Hi?", 3, "u")),
        ({"question": "Hi?", "stream": False, "refine": False}, ("Hi?", None, None)),
    ],
)
def test_quick_body_accepts_plain_queries(body: object, expected: object) -> None:
    assert quick_body(json.dumps(body).encode(), 100) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1]",
        b'{"question": "   "}',
        b'{"question": 5}',
        b'{"question": "' + b"x" * 101 + b'"}',
        b'{"question": "q", "stream": true}',
        b'{"question": "q", "refine": true}',
        b'{"question": "q", "stream": 0}',
        b'{"question": "q", "top_k": 0}',
        b'{"question": "q", "top_k": 51}',
        b'{"question": "q", "top_k": true}',
        b'{"question": "q", "top_k": 2.0}',
        b'{"question": "q", "user_id": 7}',
        b'{"question": "q", "user_id": "' + b"u" * 201 + b'"}',
    ],
)
def test_quick_body_leaves_everything_else_to_the_route(raw: bytes) -> None:
    assert quick_body(raw, 100) is None


@pytest.mark.parametrize(
    ("answer", "degraded", "similarity"),
    [('Paris — «ville»\n"quoted"', None, None), (None, "llm_unavailable: x", 0.987654)],
)
def test_hit_json_equals_the_generic_rendering(
    answer: str | None, degraded: str | None, similarity: float | None
) -> None:
    sources = [Source("c1", "d1", "Tïtle", 0.5, 'text "q"'), Source("c2", "d2", "", 1.0, "")]
    result = AnswerResult(
        query_id=new_query_id(),
        question="q",
        question_hash="h",
        answer=answer,
        sources=sources,
        cache="exact",
        index_version="20260101-abc",
        embed_model="e",
        llm_model="l",
        variant="b",
        timings_ms={"cache": 0.25, "total": 1.5},
        degraded=degraded,
        similarity=similarity,
        sources_json=render_sources(sources),
    )
    generic = json.dumps(result.as_dict(), ensure_ascii=False).encode()
    assert result.to_json() == generic
    assert json.loads(result.to_json({"refine": {"id": None}}))["refine"] == {"id": None}


def test_query_ids_are_unique_hex() -> None:
    ids = {new_query_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


class _State:
    components = None  # not started: everything goes on to the app


class _App:
    state = _State()


@pytest.mark.parametrize(
    "messages",
    [
        [
            {"type": "http.request", "body": b'{"question": ', "more_body": True},
            {"type": "http.request", "body": b'"q"}', "more_body": False},
        ],
        [
            {"type": "http.request", "body": b'{"quest', "more_body": True},
            {"type": "http.disconnect"},
        ],
    ],
)
def test_requests_it_does_not_answer_reach_the_app_unchanged(messages: list[dict]) -> None:
    import asyncio

    from online.api.fastpath import ExactHitFastPath

    seen: list[dict] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        for _ in messages:
            seen.append(await receive())  # type: ignore[operator]

    incoming = list(messages)

    async def receive() -> dict:
        return incoming.pop(0)

    async def send(message: dict) -> None:
        raise AssertionError("the fast path must not answer")

    scope = {"type": "http", "path": "/v1/query", "method": "POST", "app": _App(), "headers": []}
    asyncio.run(ExactHitFastPath(app)(scope, receive, send))  # type: ignore[arg-type]
    assert seen == messages


pytestmark = pytest.mark.unit  # pure logic: `make unit`


@pytest.mark.parametrize(
    "timings",
    [{}, {"cache": 0.123, "total": 1.0}, {"a": 1e-07, "b": 12345678.9}, {"x": 3}, {'é"': 0.5}],
)
def test_timings_render_as_json_does(timings: dict[str, float]) -> None:
    from online.answers import _timings_text

    assert _timings_text(timings) == json.dumps(timings, ensure_ascii=False)
