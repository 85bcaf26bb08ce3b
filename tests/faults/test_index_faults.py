"""A corrupt and a partial index version, named live, under load: the reloader refuses them, the
old version keeps serving every request, ``/readyz`` and admin reload report it, and the repaired
version is loaded without a restart (the follower does not retry a version that failed until it is
published again; an operator's forced reload loads it at once)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from online.app import create_app
from online.components import build_components
from shared_schemas.layout import LIVE_POINTER
from tests.faults.conftest import record, run_load, wait_until
from tests.online.conftest import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN_TOKEN = "fault-campaign-admin-token-0123"


def _damage(vdir: Path, fault: str) -> None:
    if fault == "corrupt":  # bytes changed after publish: the manifest's checksum no longer holds
        faiss = vdir / "index.faiss"
        data = bytearray(faiss.read_bytes())
        data[len(data) // 2] ^= 0xFF
        faiss.write_bytes(bytes(data))
    else:  # a copy that stopped half way: a file the manifest lists is missing
        (vdir / "ids.parquet").unlink()


def _serving(url: str) -> str | None:
    r = httpx.get(f"{url}/v1/index", timeout=10)
    return str(r.json()["version"]) if r.status_code == 200 else None


@pytest.mark.parametrize("fault", ["corrupt", "partial"])
def test_a_damaged_version_is_refused_and_the_old_one_keeps_serving(
    fault: str,
    data_root: Path,
    built_indexes: dict[str, Any],
    settings_factory: Any,
    fake_llm: Any,
    encoder: Any,
    redis_client: Any,
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    indexes = data_root / "indexes"
    settings = settings_factory(admin_token=ADMIN_TOKEN)
    components = build_components(settings, encoder=encoder, llm=fake_llm)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with running_server(create_app(settings, components=components)) as url:
        assert _serving(url) == v1
        _damage(indexes / v2, fault)
        (indexes / LIVE_POINTER).write_text(v2)  # as if publish had named it
        ready = wait_until(
            lambda: (
                (body := httpx.get(f"{url}/readyz", timeout=10).json()).get("reload_error") and body
            ),
            timeout_s=10,
            what="the reloader to try the damaged version",
        )
        load = run_load(url, requests=32, max_s=20)
        admin = httpx.post(
            f"{url}/admin/reload",
            json={"version": v2},
            headers=auth,
            timeout=30,
        )
        still = _serving(url)
        # repaired (copied again, whole): a failed version is not retried by the follower until
        # it is published again; an operator's forced reload of the live version loads it, no
        # restart
        shutil.rmtree(indexes / v2)
        shutil.copytree(built_indexes["root"] / "indexes" / v2, indexes / v2)
        repaired = httpx.post(f"{url}/admin/reload", json={"force": True}, headers=auth, timeout=30)
        assert repaired.status_code == 200, repaired.text
        assert _serving(url) == v2

    assert ready["ready"] is True
    assert ready["index"]["version"] == v1
    assert ready["reload_error"]["version"] == v2
    assert load.statuses[200] == load.requests, load.figures()
    assert admin.status_code == 409, admin.text
    assert admin.json()["serving"] == v1
    assert still == v1
    record(
        f"index_{fault}",
        {
            **load.figures(),
            "served_during_fault": still == v1,
            "admin_reload_status": admin.status_code,
            "reload_error": ready["reload_error"]["error"].rsplit(": ", 1)[-1][:80],
        },
    )
