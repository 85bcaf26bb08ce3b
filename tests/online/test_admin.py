"""Admin routes: off without a token, 401 with a wrong one, working with the right one."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_admin_off_without_token(client_factory: Any, settings_factory: Any, fake_llm: Any) -> None:
    client, _ = client_factory(settings_factory(), fake_llm)
    assert client.post("/admin/reload").status_code == 404
    assert client.post("/admin/cache/purge").status_code == 404


def test_admin_token(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, components = client_factory(
        settings_factory(admin_token="s3cret-admin-token-0123"), fake_llm
    )
    assert client.post("/admin/reload").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/admin/cache/purge", headers=wrong).status_code == 401
    ok = {"Authorization": "Bearer s3cret-admin-token-0123"}
    r = client.post("/admin/reload", headers=ok)
    assert r.status_code == 200
    assert r.json()["swapped"] is False  # already serving the live version

    client.post("/v1/query", json={"question": "How high is Everest?"})
    assert (
        client.post("/v1/query", json={"question": "How high is Everest?"}).json()["cache"]
        == "exact"
    )
    purged = client.post("/admin/cache/purge", headers=ok)
    assert purged.status_code == 200
    assert purged.json()["removed"] == 2  # the entry and the semantic vectors hash
    assert (
        client.post("/v1/query", json={"question": "How high is Everest?"}).json()["cache"]
        == "miss"
    )
    bad = client.post("/admin/reload", headers=ok, json={"version": "nope"})
    assert bad.status_code == 409
    assert bad.json()["serving"] == components.indexes.require().version


def test_non_ascii_authorization_is_401_not_500(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    client, _ = client_factory(settings_factory(admin_token="s3cret-admin-token-0123"), fake_llm)
    for raw in ("Bearer \u00e9t\u00e9".encode("latin-1"), b"Bearer \xff\xfe\x80"):
        r = client.post("/admin/reload", headers=[(b"authorization", raw)])
        assert r.status_code == 401, r.text
