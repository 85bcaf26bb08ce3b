"""SIGKILL at chosen and random points of ``tandem index publish`` (a real subprocess, killed by
itself at its N-th file or socket operation, ``tests/faults/killpoint.py``): the live pointer is
always a whole version name that loads and verifies, never torn; a re-run completes."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batch.index.publish import publish_version
from batch.settings import BatchSettings
from core.index import load_index, read_live_version
from core.index.trust import PUBLISHED_DIR, check_published
from shared_schemas.layout import LIVE_MANIFEST_KEY
from shared_schemas.manifest import IndexManifest
from tests.faults.conftest import PrivateRedis, record

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
KILLS = 8  # kill points per run of the test (the first, the last and random ones between)


def _publish(data_root: Path, redis_url: str, version: str, kill_at: int) -> tuple[int, str]:
    env = {
        **os.environ,
        "TANDEM_DATA_DIR": str(data_root),
        "TANDEM_REDIS_URL": redis_url,
        "TANDEM_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.faults.killpoint",
            str(kill_at),
            "index",
            "publish",
            version,
            "--skip-gate",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stderr


def _live_is_whole(indexes: Path, allowed: set[str]) -> str:
    live = read_live_version(indexes)
    assert live in allowed, live
    check_published(indexes, live)
    assert load_index(indexes / live).manifest.index_version == live
    return live


def test_sigkill_at_points_of_publish_leaves_live_whole_and_a_rerun_completes(
    data_root: Path, built_indexes: dict[str, Any], private_redis: PrivateRedis
) -> None:
    v1, v2 = built_indexes["v1"], built_indexes["v2"]
    indexes = data_root / "indexes"
    (indexes / PUBLISHED_DIR / f"{v2}.sha256").unlink()  # v2 built, not yet published

    # a dry run on a copy counts the side effects of one whole publish
    dry = data_root.parent / "dry"
    shutil.copytree(data_root, dry)
    rc, err = _publish(dry, private_redis.url, v2, 0)
    assert rc == 0, err
    total = int(re.findall(r"KILLPOINTS (\d+)", err)[-1])
    rng = random.Random(13)
    points = sorted({1, total, *rng.sample(range(2, total), min(KILLS - 2, total - 2))})
    with private_redis.client() as client:
        client.flushdb()

    settings = BatchSettings(data_dir=data_root, redis_url=private_redis.url)
    outcomes = {}
    for point in points:
        rc, err = _publish(data_root, private_redis.url, v2, point)
        assert rc == -9, (point, rc, err[-2000:])
        outcomes[point] = _live_is_whole(indexes, {v1, v2})
        # the pointer is moved back (an in-process publish of v1) for the next kill
        publish_version(v1, settings=settings)
        assert _live_is_whole(indexes, {v1}) == v1

    rc, err = _publish(data_root, private_redis.url, v2, 0)  # the re-run completes
    assert rc == 0, err[-2000:]
    assert _live_is_whole(indexes, {v2}) == v2
    with private_redis.client() as client:
        assert IndexManifest.parse(client.get(LIVE_MANIFEST_KEY)).index_version == v2
    record(
        "publish_sigkill",
        {
            "side_effects_per_publish": total,
            "kill_points": points,
            "live_after_kill": {str(p): ("new" if v == v2 else "old") for p, v in outcomes.items()},
            "torn_pointers": 0,
            "rerun": "completed",
        },
    )
