"""Admin routes: off without a token, 401 with a wrong one, working with the right one."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "s3cret-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_admin_off_without_token(client_factory: Any, settings_factory: Any, fake_llm: Any) -> None:
    client, _ = client_factory(settings_factory(), fake_llm)
    assert client.post("/admin/reload").status_code == 404
    assert client.post("/admin/cache/purge").status_code == 404


def test_admin_token(
    client_factory: Any, settings_factory: Any, fake_llm: Any, redis_client: Any
) -> None:
    client, components = client_factory(settings_factory(admin_token=TOKEN), fake_llm)
    assert client.post("/admin/reload").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/admin/cache/purge", headers=wrong).status_code == 401
    ok = AUTH
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
    # the entry and the scope's semantic side: vectors, use order, expiries, change log, meta
    assert purged.json()["removed"] == 6
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
    client, _ = client_factory(settings_factory(admin_token=TOKEN), fake_llm)
    for raw in ("Bearer \u00e9t\u00e9".encode("latin-1"), b"Bearer \xff\xfe\x80"):
        r = client.post("/admin/reload", headers=[(b"authorization", raw)])
        assert r.status_code == 401, r.text


def test_reload_refuses_paths_and_unpublished_versions(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    data_root: Any,
    built_indexes: dict[str, Any],
) -> None:
    client, components = client_factory(settings_factory(admin_token=TOKEN), fake_llm)
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    errors = []
    for name in ("/etc", "/no-such-dir-anywhere", "../../outside/evil", f"{v2}/.."):
        r = client.post("/admin/reload", headers=AUTH, json={"version": name, "force": True})
        assert r.status_code == 409, r.text
        assert r.json()["serving"] == v1
        errors.append(r.json()["error"].replace(repr(name), "NAME"))
    assert len(set(errors)) == 1  # the same words whether the path exists or not
    assert "No such file" not in errors[0]
    assert "/etc" not in errors[0]

    (data_root / "indexes" / ".published" / f"{v2}.sha256").unlink()  # never published
    r = client.post("/admin/reload", headers=AUTH, json={"version": v2})
    assert r.status_code == 409
    assert "not published" in r.json()["error"]
    assert components.indexes.require().version == v1


def test_a_purge_version_is_a_name_never_a_pattern(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    """Issue 27 item 6: ``index_version: "*"`` acted as a glob (every version's answers gone)."""
    client, _ = client_factory(settings_factory(admin_token=TOKEN), fake_llm)
    client.post("/v1/query", json={"question": "How high is Everest?"})
    for pattern in ("*", "v1*", "[a-z]*", "../x"):
        r = client.post("/admin/cache/purge", headers=AUTH, json={"index_version": pattern})
        assert r.status_code == 422, (pattern, r.text)
    again = client.post("/v1/query", json={"question": "How high is Everest?"}).json()
    assert again["cache"] == "exact"  # nothing was purged
