"""Every bad input gets a 422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def client(client_factory: Any, settings_factory: Any, fake_llm: Any) -> Any:
    c, _ = client_factory(settings_factory(max_question_chars=100, max_body_bytes=2000), fake_llm)
    return c


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 101}, "question"),
        ({"question": 42}, "question"),
        ({}, "question"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "top_k": 51}, "top_k"),
        ({"question": "ok?", "top_k": "5"}, "top_k"),
        ({"question": "ok?", "stream": "yes"}, "stream"),
        ({"question": "ok?", "user_id": 7}, "user_id"),
    ],
)
def test_bad_query_bodies(client: Any, body: dict[str, Any], field: str) -> None:
    r = client.post("/v1/query", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input"
    assert field in [d["field"] for d in r.json()["detail"]]


@pytest.mark.parametrize("question", ["\x1f", "\x01", "\x85", " \x1c "])
def test_a_question_the_schema_accepts_is_answered_on_every_route(
    client: Any, question: str
) -> None:
    """Issue 27 item 6: a question of one control character fit the schema's ``\\S`` (JSON
    Schema's white space is not Python's) and still got 422."""
    r = client.post("/v1/query", json={"question": question})
    assert r.status_code == 200, r.text
    chat = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}
    )
    assert chat.status_code == 200, chat.text


@pytest.mark.parametrize("question", ["\u3000", "\ufeff", "\u2028 \t"])
def test_a_question_of_schema_white_space_is_422(client: Any, question: str) -> None:
    r = client.post("/v1/query", json={"question": question})
    assert r.status_code == 422, r.text


def test_malformed_json(client: Any) -> None:
    r = client.post(
        "/v1/query", content=b'{"question": "x",', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    [detail] = r.json()["detail"]
    assert detail["type"] == "json_invalid"
    assert "malformed JSON" in detail["msg"]


@pytest.mark.parametrize("depth", [1000, 5000])
def test_deeply_nested_json_is_refused_not_500(
    client_factory: Any, settings_factory: Any, fake_llm: Any, depth: int
) -> None:
    client, _ = client_factory(settings_factory(), fake_llm)
    raw = b"[" * depth + b"]" * depth
    r = client.post("/v1/query", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text
    nested = b'{"question": "ok?", "pad": ' + b"[" * depth + b"]" * depth + b"}"
    r = client.post("/v1/query", content=nested, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text


def test_oversized_body(client: Any) -> None:
    r = client.post("/v1/query", json={"question": "x", "pad": "y" * 5000})
    assert r.status_code == 413
    assert r.json()["detail"][0]["field"] == "body"
    assert r.json()["detail"][0]["type"] == "body_too_large"


def test_oversized_chunked_body(client: Any) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 500

    r = client.post("/v1/query", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query_id": "", "rating": 1}, "query_id"),
        ({"query_id": "q", "rating": 2}, "rating"),
        ({"query_id": "q", "rating": "good"}, "rating"),
    ],
)
def test_bad_feedback(client: Any, body: dict[str, Any], field: str) -> None:
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 422
    assert field in [d["field"] for d in r.json()["detail"]]


def test_bad_chat_bodies(client: Any) -> None:
    """The OpenAI route answers bad input in OpenAI's error shape (param names the field)."""
    r = client.post("/v1/chat/completions", json={"messages": []})
    assert r.status_code == 422
    error = r.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (
        "messages",
        "invalid_input",
        "invalid_request_error",
    )
    assert error["detail"][0]["field"] == "messages"
    r = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]}
    )
    assert r.status_code == 422
    assert r.json()["error"]["param"] == "messages"


@pytest.mark.parametrize("path", ["/v1/query", "/v1/chat/completions", "/v1/feedback"])
def test_invalid_utf8_is_422_naming_the_body_everywhere(client: Any, path: str) -> None:
    raw = b'{"question": "caf\xe9?", "messages": [], "query_id": "q", "rating": 0}'
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    body = r.json()
    if path == "/v1/chat/completions":  # OpenAI's error shape, Tandem's code and detail inside
        body = body["error"]
        assert body["param"] == "body"
        assert body["code"] == "invalid_input"
    else:
        assert body["error"] == "invalid_input"
    [detail] = body["detail"]
    assert detail["field"] == "body"
    assert detail["type"] == "json_invalid"


@pytest.mark.parametrize("rating", [-1.0, 1.0, 0.0, -1, 0, 1])
def test_feedback_rating_is_any_json_integer(client: Any, rating: float) -> None:
    # JSON Schema's integer includes 1.0; the declared schema says integer in [-1, 1]
    r = client.post("/v1/feedback", json={"query_id": "q", "rating": rating})
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("rating", [0.5, "1", True, 2, -2.0])
def test_feedback_rating_refuses_non_integers(client: Any, rating: Any) -> None:
    r = client.post("/v1/feedback", json={"query_id": "q", "rating": rating})
    assert r.status_code == 422, r.text
    assert "rating" in [d["field"] for d in r.json()["detail"]]


def test_declared_request_schemas_say_what_is_refused(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    query = spec["paths"]["/v1/query"]["post"]["requestBody"]["content"]["application/json"]
    question = query["schema"]["properties"]["question"]
    assert question["maxLength"] == 100  # max_question_chars of this client
    assert question["pattern"] == r"\S"
    schemas = spec["components"]["schemas"]
    messages = schemas["ChatCompletionBody"]["properties"]["messages"]
    assert messages["contains"]["properties"]["role"] == {"const": "user"}
    assert messages["contains"]["properties"]["content"]["maxLength"] == 100
    rating = schemas["FeedbackBody"]["properties"]["rating"]
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", -1, 1)


def test_chat_question_is_the_last_user_message_with_text(client: Any) -> None:
    r = client.post(
        "/v1/chat/completions",
        json={
            "messages": [
                {"role": "user", "content": "Who created Python?"},
                {"role": "user", "content": [{"type": "text", "text": "  "}]},
                {"role": "tool", "content": "42"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "answer: Who created Python?"
    only_tool = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "tool", "content": "42"}]}
    )
    assert only_tool.status_code == 422
    assert only_tool.json()["error"]["param"] == "messages"


def test_integral_floats_are_integers_for_top_k_and_max_tokens(client: Any) -> None:
    r = client.post("/v1/query", json={"question": "Where is Rome?", "top_k": 3.0})
    assert r.status_code == 200, r.text
    assert len(r.json()["sources"]) <= 3
    chat = {"messages": [{"role": "user", "content": "Rome?"}], "max_tokens": 16.0}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    assert client.post("/v1/query", json={"question": "x", "top_k": 2.5}).status_code == 422


LONE = '"x\\udfff"'  # JSON's escape for a lone surrogate: valid JSON, not valid Unicode text


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/v1/query", '{"question": ' + LONE + "}", "question"),
        ("/v1/query", '{"question": "ok?", "user_id": ' + LONE + "}", "user_id"),
        (
            "/v1/chat/completions",
            '{"messages": [{"role": "system", "content": ' + LONE + "}, "
            '{"role": "user", "content": "Who won?"}]}',
            "content",
        ),
        (
            "/v1/chat/completions",
            '{"messages": [{"role": "user", "content": ' + LONE + "}]}",
            "content",
        ),
        (
            "/v1/chat/completions",
            '{"messages": [{"role": "assistant", "content": [{"type": "text", "text": '
            + LONE
            + '}]}, {"role": "user", "content": "Who won?"}]}',
            "content",
        ),
    ],
)
def test_a_lone_surrogate_is_422_and_generation_stays_up(
    client_factory: Any, settings_factory: Any, fake_llm: Any, path: str, raw: str, field: str
) -> None:
    """Issue 27 item 1: one such request opened the LLM circuit breaker for every client."""
    client, components = client_factory(settings_factory(), fake_llm)
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert fake_llm.calls == 0
    assert "surrogate" in r.text  # named as such, by the field or by the body's JSON parser
    assert field in r.text or '"body"' in r.text
    body = client.post("/v1/query", json={"question": "Who won Super Bowl 50?"}).json()
    assert body["answer"]
    assert "degraded" not in body
    assert components.llm.ready()


def test_a_lone_surrogate_in_a_reload_version_is_422_and_readyz_stays_up(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    token = "admin-token-for-the-input-test-0123"
    client, _ = client_factory(settings_factory(admin_token=token), fake_llm)
    r = client.post(
        "/admin/reload",
        content='{"version": ' + LONE + "}",
        headers={"content-type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422, r.text
    assert client.get("/readyz").status_code == 200


def test_a_trailing_slash_is_not_redirected_to_the_clients_host(client: Any) -> None:
    """Issue 27 item 6: the 307 from ``/v1/query/`` reflected the Host header."""
    r = client.post(
        "/v1/query/",
        json={"question": "ok?"},
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert "location" not in r.headers
