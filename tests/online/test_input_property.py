"""Issue 27 item 1, as a property: any text (lone surrogates, control characters, private-use
and unassigned code points, emoji, right-to-left marks, NULs) in any string field of any route,
the admin API included, is answered without a server error; a lone surrogate is always the
client's error (422); the LLM's breaker never opens; readiness stays up."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "admin-token-for-the-property-test-01"
#: every code point, surrogates included (JSON's \\udfff escape decodes to one)
ANY_TEXT = st.text(
    st.one_of(
        st.characters(),  # every assigned category but surrogates (Hypothesis leaves them out)
        st.integers(0xD800, 0xDFFF).map(chr),  # lone surrogates
        st.integers(0, 0x1F).map(chr),  # C0 controls, NUL included
    ),
    min_size=1,
    max_size=40,
)

ROUTES: list[tuple[str, Any]] = [
    ("/v1/query", lambda t: {"question": t}),
    ("/v1/query", lambda t: {"question": "Where is Paris?", "user_id": t}),
    ("/v1/chat/completions", lambda t: {"messages": [{"role": "user", "content": t}]}),
    (
        "/v1/chat/completions",
        lambda t: {
            "messages": [{"role": "system", "content": t}, {"role": "user", "content": "Hi"}]
        },
    ),
    (
        "/v1/chat/completions",
        lambda t: {"messages": [{"role": "user", "content": "Hi"}], "stop": [t]},
    ),
    (
        "/v1/chat/completions",
        lambda t: {"model": t, "messages": [{"role": "user", "content": "Hi"}]},
    ),
    ("/v1/feedback", lambda t: {"query_id": t, "rating": 1}),
    ("/v1/feedback", lambda t: {"query_id": "q", "rating": 1, "comment": t}),
    ("/admin/reload", lambda t: {"version": t}),
    ("/admin/cache/purge", lambda t: {"index_version": t}),
]


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, built_indexes: dict[str, Any], encoder: Any
) -> Any:
    import shutil

    from fastapi.testclient import TestClient

    from core.index.trust import record_published
    from core.llm.fake import FakeLLM
    from online.app import create_app
    from online.components import build_components
    from shared_schemas.layout import LIVE_POINTER
    from tests.online.conftest import make_settings

    root = tmp_path_factory.mktemp("property") / "var"
    shutil.copytree(built_indexes["root"] / "indexes", root / "indexes")
    (root / "indexes" / LIVE_POINTER).write_text(built_indexes["v1"])
    record_published(root / "indexes", built_indexes["v1"])
    s = make_settings(root, admin_token=TOKEN)
    components = build_components(s, encoder=encoder, llm=FakeLLM())
    with TestClient(create_app(s, components=components)) as client:
        yield client, components


@pytest.mark.parametrize(
    ("path", "body"), ROUTES, ids=[f"{p}#{i}" for i, (p, _) in enumerate(ROUTES)]
)
def test_any_text_in_any_field_is_never_a_server_error(service: Any, path: str, body: Any) -> None:
    client, components = service
    headers = {"content-type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    seen = {"surrogate": 0, "control": 0, "total": 0}

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(text=ANY_TEXT)
    def check(text: str) -> None:
        raw = json.dumps(body(text))  # ASCII JSON: a surrogate travels as its \\u escape
        seen["total"] += 1
        seen["surrogate"] += _has_surrogate(text)
        seen["control"] += any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)
        r = client.post(path, content=raw, headers=headers)
        assert r.status_code < 500, (path, repr(text), r.status_code, r.text[:300])
        if _has_surrogate(text):
            assert r.status_code == 422, (path, repr(text), r.status_code, r.text[:300])

    check()
    assert seen["surrogate"] > 0, seen  # the property was tried on what broke the service
    assert seen["control"] > 0, seen
    assert components.llm.ready()  # the breaker never opened
    assert client.get("/readyz").status_code == 200
