"""Index reload without downtime: swap under concurrent requests, failed loads keep serving."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from online.app import create_app
from online.components import build_components
from shared_schemas.layout import LIVE_CHANNEL, LIVE_MANIFEST_KEY, LIVE_POINTER, MANIFEST_FILE
from shared_schemas.manifest import IndexManifest
from tests.online.conftest import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _publish(redis_client: Any, data_root: Path, version: str) -> None:
    manifest = (data_root / "indexes" / version / MANIFEST_FILE).read_text()
    (data_root / "indexes" / LIVE_POINTER).write_text(version)
    redis_client.set(LIVE_MANIFEST_KEY, manifest)
    redis_client.publish(LIVE_CHANNEL, version)


def _corrupt(data_root: Path, version: str) -> None:
    """Its FAISS file no longer matches the manifest's sha256."""
    faiss_file = data_root / "indexes" / version / "index.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-8] + b"corrupt!")


def _subscribers(client: Any, channel: str) -> int:
    """Subscribers of ``channel``: on a cluster, summed over its nodes (each counts its own)."""
    from redis.cluster import RedisCluster

    if isinstance(client, RedisCluster):
        return int(client.pubsub_numsub(channel, target_nodes=RedisCluster.ALL_NODES)[0][1])
    return int(client.pubsub_numsub(channel)[0][1])


def _wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)  # polling an observable condition, with a deadline
    return False


def test_swap_under_concurrent_requests_has_no_failures(
    encoder: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    settings = settings_factory(reload_poll_s=30.0, generation_queue=64)  # only pub/sub
    components = build_components(settings, encoder=encoder, llm=fake_llm)
    questions = ["What is the capital of Japan?", "Where is Rome?", "Who won Super Bowl 49?"]
    failures: list[str] = []
    versions: list[str] = []
    stop = threading.Event()
    with running_server(create_app(settings, components=components)) as url:

        def hammer(n: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                i = 0
                while not stop.is_set():
                    q = f"{questions[i % len(questions)]} ({n}-{i})"
                    i += 1
                    try:
                        r = http.post("/v1/query", json={"question": q})
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if r.status_code != 200 or r.json()["answer"] is None:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        versions.append(r.json()["index_version"])

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        assert _wait_for(lambda: len(versions) >= 8)
        _publish(redis_client, data_root, v2)
        assert _wait_for(lambda: versions[-1] == v2 and versions.count(v2) >= 8)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert failures == []
        assert v1 in versions
        assert v2 in versions
        # once swapped, never back
        first_v2 = versions.index(v2)
        assert versions[first_v2 + 40 :].count(v1) == 0
        # the new version's document is found
        tokyo = httpx.post(f"{url}/v1/query", json={"question": "What is the capital of Japan?"})
        assert tokyo.json()["sources"][0]["doc_id"] == "tokyo"
        ready = httpx.get(f"{url}/readyz").json()
        assert ready["index"]["version"] == v2


def test_polling_fallback_and_failed_load_keeps_old_version(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    client, components = client_factory(settings_factory(reload_poll_s=0.1), fake_llm)
    assert components.indexes.require().version == v1
    # LIVE file only (no Redis key, no message): the poll finds it
    (data_root / "indexes" / LIVE_POINTER).write_text(v2)
    assert _wait_for(lambda: components.indexes.require().version == v2)

    # a corrupted version: the checksum fails, v2 keeps serving, /readyz says why
    _corrupt(data_root, v1)
    _publish(redis_client, data_root, v1)
    assert _wait_for(lambda: components.indexes.last_error_version == v1)
    assert components.indexes.require().version == v2
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["index"]["version"] == v2
    assert body["reload_error"]["version"] == v1
    assert "sha256" in body["reload_error"]["error"]
    assert str(data_root) not in ready.text  # no absolute path on the public route
    assert "failed to load" in caplog.text
    r = client.post("/v1/query", json={"question": "Where is Tokyo?"})
    assert r.status_code == 200
    assert r.json()["index_version"] == v2
    assert "tandem_index_load_failures_total 1.0" in client.get("/metrics").text


def test_wrong_embedding_model_is_refused(
    client_factory: Any, settings_factory: Any, fake_llm: Any
) -> None:
    client, components = client_factory(settings_factory(embedding_model="other/model"), fake_llm)
    assert components.indexes.current is None
    body = client.get("/readyz").json()
    assert "other/model" in body["reload_error"]["error"]


def test_a_live_key_naming_a_path_outside_is_never_loaded(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
    tmp_path: Path,
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    # a complete, verifiable copy of v2 outside the data directory, named as a path
    evil = tmp_path / "outside" / "evil"
    shutil.copytree(data_root / "indexes" / v2, evil)
    manifest = IndexManifest.parse((evil / MANIFEST_FILE).read_text())
    evil_manifest = manifest.model_copy(update={"index_version": "../../outside/evil"})
    redis_client.set(LIVE_MANIFEST_KEY, evil_manifest.dumps())
    (data_root / "indexes" / LIVE_POINTER).write_text("../../outside/evil")
    _, components = client_factory(settings_factory(reload_poll_s=0.1), fake_llm)
    assert components.indexes.current is None  # refused at start-up, nothing else is trusted
    assert "not an index version name" in (components.indexes.last_error or "")
    _publish(redis_client, data_root, v1)
    assert _wait_for(lambda: components.indexes.current is not None)
    assert components.indexes.require().version == v1


def test_admin_reload_is_pinned_until_the_next_publish(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    _publish(redis_client, data_root, v1)
    token = "pinning-admin-token-0123456789"
    client, components = client_factory(
        settings_factory(reload_poll_s=0.1, admin_token=token), fake_llm
    )
    auth = {"Authorization": f"Bearer {token}"}
    assert components.indexes.require().version == v1
    r = client.post("/admin/reload", headers=auth, json={"version": v2})
    assert r.status_code == 200, r.text
    assert r.json()["pinned"] is True
    swaps = components.indexes.swaps
    time.sleep(1.5)  # fifteen poll intervals: the follower must not undo the operator's choice
    assert components.indexes.require().version == v2
    assert components.indexes.swaps == swaps
    assert client.get("/readyz").json()["index"]["pinned"] is True
    _publish(redis_client, data_root, v1)  # the next publish ends the pin
    assert _wait_for(lambda: components.indexes.require().version == v1)
    assert client.get("/readyz").json()["index"]["pinned"] is False
    # a reload without a version goes back to following at once
    client.post("/admin/reload", headers=auth, json={"version": v2})
    r = client.post("/admin/reload", headers=auth)
    assert r.json()["pinned"] is False
    assert r.json()["serving"] == v1


def test_live_file_wins_when_redis_missed_the_publish(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    _publish(redis_client, data_root, v1)
    _, components = client_factory(settings_factory(reload_poll_s=0.1), fake_llm)
    assert components.indexes.require().version == v1
    # publish SIGKILLed after replacing LIVE, before writing Redis
    (data_root / "indexes" / LIVE_POINTER).write_text(v2 + "\n")
    assert _wait_for(lambda: components.indexes.require().version == v2)
    assert IndexManifest.parse(redis_client.get(LIVE_MANIFEST_KEY)).index_version == v1


def test_reload_error_clears_once_a_later_reload_succeeds(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    client, components = client_factory(settings_factory(reload_poll_s=0.1), fake_llm)
    assert components.indexes.require().version == v1
    _corrupt(data_root, v2)
    _publish(redis_client, data_root, v2)
    assert _wait_for(lambda: components.indexes.last_error_version == v2)
    assert client.get("/readyz").json()["reload_error"]["version"] == v2
    # the operator rolls the pointer back to the version still served: nothing to swap, but the
    # reload succeeded, so the failure of v2 is no longer what /readyz reports
    _publish(redis_client, data_root, v1)
    assert _wait_for(lambda: components.indexes.last_error is None, timeout=10)
    body = client.get("/readyz").json()
    assert "reload_error" not in body
    assert body["index"]["version"] == v1


def test_a_reload_does_not_clear_the_error_of_a_version_whose_files_are_still_corrupt(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
) -> None:
    """Issue 27 item 6: the live version's files were corrupted under a replica serving it from
    memory; a forced reload found it, then a plain ``/admin/reload {}`` reported success (the
    version "already served") and cleared ``reload_error`` while the files were still bad."""
    v1 = built_indexes["v1"]
    client, components = client_factory(
        settings_factory(reload_poll_s=60.0, admin_token="reload-admin-token-0123456789"), fake_llm
    )
    auth = {"Authorization": "Bearer reload-admin-token-0123456789"}
    assert components.indexes.require().version == v1
    faiss_file = data_root / "indexes" / v1 / "index.faiss"
    good = faiss_file.read_bytes()
    _corrupt(data_root, v1)
    forced = client.post("/admin/reload", headers=auth, json={"version": v1, "force": True})
    assert "sha256" in (forced.json()["error"] or "")
    for body in ({}, None, {"version": v1}):
        again = client.post("/admin/reload", headers=auth, json=body)
        assert again.json()["error"], body
        assert client.get("/readyz").json()["reload_error"]["version"] == v1, body
    assert components.indexes.require().version == v1  # still serving its copy in memory
    # fixed on disk: the next plain reload loads it again and the error is history
    faiss_file.write_bytes(good)
    fixed = client.post("/admin/reload", headers=auth, json={})
    assert fixed.json()["error"] is None
    assert fixed.json()["swapped"] is True
    assert "reload_error" not in client.get("/readyz").json()


def test_a_malformed_index_event_never_stops_the_follower(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: Any,
    redis_client: Any,
    data_root: Path,
    built_indexes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 27 item 4: one ``\\xff\\xfe`` on the channel stopped the follower of every replica,
    silently; a later publish went unseen until the poll. The poll here is 60 s: only the
    event can bring the swap within the wait."""
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    _, components = client_factory(settings_factory(reload_poll_s=60.0), fake_llm)
    assert components.indexes.require().version == v1
    assert _wait_for(lambda: _subscribers(redis_client, LIVE_CHANNEL) >= 1)
    redis_client.publish(LIVE_CHANNEL, b"\xff\xfe")
    redis_client.publish(LIVE_CHANNEL, "../../etc")
    _publish(redis_client, data_root, v2)
    assert _wait_for(lambda: components.indexes.require().version == v2, timeout=20.0)
    assert "index event ignored" in caplog.text
