"""Models fetched, verified and served from the artifact store (issue 23 items 1 and 6): the
builder publishes a model into a real SeaweedFS bucket; two real ``tandem serve`` processes with
empty model stores download it, verify its sha256 and answer with it through their llama.cpp
engines. A published copy with one flipped byte is refused: a replica with no verified copy of
its own never becomes ready, one with a verified copy keeps serving from it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from batch.index.publish import publish_version
from batch.settings import BatchSettings
from core.models.catalog import get_spec
from core.models.resolve import model_artifacts, publish_model
from core.models.store import ModelStore, bundled_path
from shared_schemas.config import LLM_MODEL_ID, CommonSettings
from tests.conftest import TEST_REDIS_URL
from tests.online.test_limits_processes import TANDEM, Service, _wait_ready
from tests.seaweedfs import SeaweedS3, start_seaweedfs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


def _s3(seaweed: SeaweedS3, prefix: str) -> dict[str, str]:
    return {
        "artifacts_url": f"s3://{seaweed.bucket}/{prefix}/artifacts",
        "s3_endpoint_url": seaweed.endpoint_url,
        "s3_access_key_id": seaweed.access_key,
        "s3_secret_access_key": seaweed.secret_key,
    }


def test_replicas_fetch_verify_and_serve_published_models(
    seaweed: SeaweedS3, data_root: Path, redis_client: Any, tmp_path: Path
) -> None:
    s3 = _s3(seaweed, tmp_path.name)
    batch = BatchSettings(data_dir=data_root, redis_url=TEST_REDIS_URL, **s3)  # type: ignore[arg-type]
    publish_version(
        (data_root / "indexes" / "LIVE").read_text().strip(),
        settings=batch,
        redis_client=redis_client,
    )
    builder = CommonSettings(models_dir=tmp_path / "builder", data_dir=tmp_path / "b", **s3)  # type: ignore[arg-type]
    store = ModelStore(builder.models_dir)
    spec = get_spec(LLM_MODEL_ID)
    store.install_file(LLM_MODEL_ID, bundled_path(spec.source))  # type: ignore[arg-type]
    artifacts = model_artifacts(builder)
    publish_model(store, artifacts, LLM_MODEL_ID)

    env = {
        **os.environ,
        "TANDEM_REDIS_URL": TEST_REDIS_URL,
        "TANDEM_ARTIFACTS_URL": s3["artifacts_url"],
        "TANDEM_S3_ENDPOINT_URL": seaweed.endpoint_url,
        "TANDEM_S3_ACCESS_KEY_ID": seaweed.access_key,
        "TANDEM_S3_SECRET_ACCESS_KEY": seaweed.secret_key,
        "TANDEM_DEVICE": "cpu",
        "TANDEM_LLM_BACKEND": "engine",
        "TANDEM_LLM_MODEL": LLM_MODEL_ID,
        "TANDEM_LLM_ENGINE_THREADS": "1",
        "TANDEM_LLM_ENGINE_PARALLEL": "1",
        "TANDEM_RATE_LIMITS__ENABLED": "false",
    }

    def replica(i: int, stack: ExitStack) -> Service:
        own = {
            "TANDEM_DATA_DIR": str(tmp_path / f"r{i}"),
            "TANDEM_MODELS_DIR": str(tmp_path / f"models-{i}"),
        }
        service = Service({**env, **own}, tmp_path / f"serve-{i}.log")
        stack.callback(service.stop)
        return service

    with ExitStack() as stack:
        one, two = replica(1, stack), replica(2, stack)
        _wait_ready([one, two])
        for i, service in enumerate((one, two), 1):
            fetched = tmp_path / f"models-{i}" / spec.name / spec.file_name
            assert fetched.read_bytes() == bundled_path(spec.source).read_bytes()  # type: ignore[arg-type]
            assert "fetching it from" in service.log_path.read_text()
            body = httpx.post(
                f"{service.url}/v1/query", json={"question": "Who won Super Bowl 50?"}, timeout=60
            ).json()
            assert body["cache"] in ("miss", "exact")  # the second replica may find the first's
            assert body["models"]["llm"] == LLM_MODEL_ID
            assert body["answer"]

    # the published copy gets one flipped byte
    bad = tmp_path / "bad" / spec.name
    bad.mkdir(parents=True)
    data = bytearray(bundled_path(spec.source).read_bytes())  # type: ignore[arg-type]
    data[len(data) // 2] ^= 0x01
    (bad / spec.file_name).write_bytes(bytes(data))
    artifacts.write_version_dir(spec.name, bad)

    fresh = {
        **env,
        "TANDEM_DATA_DIR": str(tmp_path / "r3"),
        "TANDEM_MODELS_DIR": str(tmp_path / "m3"),
    }
    done = subprocess.run(
        [str(TANDEM), "serve", "--port", "1"],
        cwd=REPO,
        env=fresh,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "refused" in done.stderr + done.stdout
    assert not (tmp_path / "m3" / spec.name).exists()  # nothing unverified kept
    with ExitStack() as stack:  # replica 1 restarts on its own verified copy
        again = replica(1, stack)
        _wait_ready([again])
        assert httpx.get(f"{again.url}/readyz", timeout=10).status_code == 200
