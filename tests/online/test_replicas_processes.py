"""Replicas that agree (issue 11 item 3): two real ``tandem serve`` processes on one Redis, fed
by an S3 artifact store (a real SeaweedFS), serve the same version after a publish; a canary
rolled back on one is in force on the other (the debug header cannot force it back), and stays
rolled back across a restart; each replica reports its version (heartbeat in Redis, metric) and
``tandem status`` lists them.

The answering LLM is a stub OpenAI-compatible server in this process; the canary's LLM URL is a
closed port, so its answers are degraded (``llm_unavailable``) and the guard rolls it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from batch.index.publish import publish_version
from batch.settings import BatchSettings
from online.experiments import DEBUG_KEY_HEADER, VARIANT_HEADER, Variant, VariantRouter
from online.experiments.shared import EXPERIMENT_EVENTS, experiment_id, read_events
from online.replica import ReplicaRecord, read_replicas
from tests.conftest import TEST_REDIS_URL
from tests.faults.conftest import wait_until
from tests.online.test_limits_processes import TANDEM, Service, _wait_ready, stub_llm
from tests.seaweedfs import SeaweedS3, start_seaweedfs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SALT = "replicas-test-salt-0123456789"
DEBUG_KEY = "qa-debug-key-0123456789abcdef"
AGREE_S = 15.0  # a bound on waits for the other replica; it syncs every 0.3 s


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


VARIANTS = [
    {"name": "base", "weight": 1, "baseline": True},
    {
        "name": "canary",
        "weight": 1,
        "llm_backend": "openai",
        "llm_model": "canary-model",
        "llm_url": f"http://127.0.0.1:{_closed_port()}/v1",
    },
]


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


def _env(seaweed: SeaweedS3, prefix: str, llm_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "TANDEM_REDIS_URL": TEST_REDIS_URL,
        "TANDEM_ARTIFACTS_URL": f"s3://{seaweed.bucket}/{prefix}/indexes",
        "TANDEM_S3_ENDPOINT_URL": seaweed.endpoint_url,
        "TANDEM_S3_ACCESS_KEY_ID": seaweed.access_key,
        "TANDEM_S3_SECRET_ACCESS_KEY": seaweed.secret_key,
        "TANDEM_DEVICE": "cpu",
        "TANDEM_LLM_BACKEND": "openai",
        "TANDEM_LLM_URL": llm_url,
        "TANDEM_LLM_TIMEOUT_S": "5",
        "TANDEM_RATE_LIMITS__ENABLED": "false",
        "TANDEM_VARIANTS": json.dumps(VARIANTS),
        "TANDEM_EXPERIMENT_SALT": SALT,
        "TANDEM_VARIANT_OVERRIDE_KEYS": hashlib.sha256(DEBUG_KEY.encode()).hexdigest(),
        "TANDEM_CANARY__MIN_SAMPLES": "4",
        "TANDEM_CANARY__WINDOW": "10",
        "TANDEM_CANARY__CHECK_EVERY": "1",
        "TANDEM_CANARY__ERROR_MARGIN": "0.1",
        "TANDEM_HEARTBEAT_S": "0.3",
        "TANDEM_EXPERIMENT_SYNC_S": "0.3",
        "TANDEM_RELOAD_POLL_S": "0.5",
    }


def _metric(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def _ask(url: str, question: str, **kw: Any) -> dict[str, Any]:
    headers = kw.pop("headers", {})
    r = httpx.post(
        f"{url}/v1/query", json={"question": question, **kw}, headers=headers, timeout=30
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _readyz(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/readyz", timeout=10).json())


def test_two_replicas_agree_on_rollbacks_and_versions(
    seaweed: SeaweedS3,
    data_root: Path,
    built_indexes: dict[str, Any],
    redis_client: Any,
    tmp_path: Path,
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    prefix = tmp_path.name
    batch = BatchSettings(
        data_dir=data_root,
        redis_url=TEST_REDIS_URL,
        artifacts_url=f"s3://{seaweed.bucket}/{prefix}/indexes",
        s3_endpoint_url=seaweed.endpoint_url,
        s3_access_key_id=seaweed.access_key,
        s3_secret_access_key=seaweed.secret_key,
    )
    publish_version(v1, settings=batch, redis_client=redis_client)

    with ExitStack() as stack:
        llm_url, _ = stack.enter_context(stub_llm())
        env = _env(seaweed, prefix, llm_url)

        def start(i: int) -> Service:
            own = {"TANDEM_REPLICA_ID": f"replica-{i}", "TANDEM_DATA_DIR": str(tmp_path / f"r{i}")}
            service = Service({**env, **own}, tmp_path / f"serve-{i}-{len(started)}.log")
            stack.callback(service.stop)
            started.append(service)
            return service

        started: list[Service] = []
        one, two = start(1), start(2)
        _wait_ready([one, two])
        assert [_readyz(s.url)["index"]["version"] for s in (one, two)] == [v1, v1]
        assert not (tmp_path / "r1" / "indexes").exists()  # served from the bucket's copy

        # --- a canary rolled back on replica 1 is in force on replica 2 ---
        router = VariantRouter([Variant.model_validate(v) for v in VARIANTS], salt=SALT)
        users = [f"user-{i}" for i in range(60)]
        by_arm = {
            arm: [u for u in users if router.assign(user_id=u).name == arm][:4]
            for arm in ("base", "canary")
        }
        assert all(len(v) == 4 for v in by_arm.values())
        for i, user in enumerate(by_arm["base"]):
            assert _ask(one.url, f"Where is Berlin, {i}?", user_id=user)["variant"] == "base"
        for i, user in enumerate(by_arm["canary"]):
            body = _ask(one.url, f"Where is Paris, {i}?", user_id=user)
            assert body["variant"] == "canary"
            assert "llm_unavailable" in (body["degraded"] or "")
        assert _readyz(one.url)["variants"] == {"base": 1.0, "canary": 0.0}  # judged here: at once
        wait_until(
            lambda: _readyz(two.url)["variants"] == {"base": 1.0, "canary": 0.0},
            timeout_s=AGREE_S,
            what="replica 2 to put replica 1's rollback in force",
        )
        forced = {VARIANT_HEADER: "canary", DEBUG_KEY_HEADER: DEBUG_KEY}
        for service in (one, two):
            # not even the debug key forces a rolled-back arm, on either replica
            assert _ask(service.url, "Where is Rome?", headers=forced)["variant"] == "base"
            assert {_ask(service.url, "Where is Rome?", user_id=u)["variant"] for u in users} == {
                "base"
            }
        rollbacks = redis_client.hgetall(
            f"tandem:exp:{{{experiment_id(router.variants, SALT)}}}:rollbacks"
        )
        assert list(rollbacks) == [b"canary"]
        assert json.loads(rollbacks[b"canary"])["replica"] == "replica-1"
        events = read_events(redis_client)
        assert [(e.kind, e.variant, e.replica, e.reason) for e in events] == [
            ("rollback", "canary", "replica-1", "error_rate")
        ]
        assert redis_client.xlen(EXPERIMENT_EVENTS) == 1
        fired = {s.url: _metric(s.url, "tandem_canary_rollbacks_total") for s in (one, two)}
        assert [v for _, v in fired[one.url]] == [1.0]
        assert [v for _, v in fired[two.url]] == []  # adopted, not judged again

        # --- a restarted replica keeps the rollback from its first answer ---
        two.stop()
        wait_until(
            lambda: [r.replica for r in read_replicas(redis_client)] == ["replica-1"],
            timeout_s=AGREE_S,
            what="the stopped replica to leave the list",
        )
        two = start(2)
        _wait_ready([two])
        assert _readyz(two.url)["variants"] == {"base": 1.0, "canary": 0.0}
        assert _ask(two.url, "Where is Rome?", headers=forced)["variant"] == "base"

        # --- a publish through the bucket: both replicas serve the new version ---
        publish_version(v2, settings=batch, redis_client=redis_client)

        def versions() -> list[ReplicaRecord]:
            return read_replicas(redis_client)

        wait_until(
            lambda: (
                [(r.replica, r.version) for r in versions()]
                == [("replica-1", v2), ("replica-2", v2)]
            ),
            timeout_s=AGREE_S,
            what="both replicas to report v2",
        )
        assert [_readyz(s.url)["index"]["version"] for s in (one, two)] == [v2, v2]
        for service, name in ((one, "replica-1"), (two, "replica-2")):
            info = _metric(service.url, "tandem_replica_info")
            assert info == [({"replica": name, "version": v2}, 1.0)]
        assert all(r.weights == {"base": 1.0, "canary": 0.0} for r in versions())

        # --- tandem status lists the replicas, their versions and ages ---
        status_env = {**env, "TANDEM_DATA_DIR": str(data_root)}
        shown = _status(status_env, ["--json"])
        listed = {r["replica"]: r for r in json.loads(shown)["replicas"]}
        assert sorted(listed) == ["replica-1", "replica-2"]
        assert {r["version"] for r in listed.values()} == {v2}
        assert all(0 <= r["age_s"] < 15 for r in listed.values())
        # what each replica served, by cache outcome and producing tier (issue 23 item 3)
        served = listed["replica-1"]["answers"]
        assert sum(served.values()) > 0, listed
        assert all(k.split("/")[1] in ("fast", "deep") for k in served), served
        table = _status(status_env, [])
        for shown_text in ("replica-1", "replica-2", v2, "/fast="):
            assert shown_text in table


def _status(env: dict[str, str], args: list[str]) -> str:
    done = subprocess.run(
        [str(TANDEM), "status", *args],
        cwd=REPO,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
