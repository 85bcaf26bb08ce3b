"""The refine worker on an S3 deployment (issue 25): it reads the live version as the service
does, from the artifact store's LIVE pointer, and refines against a verified download of it. It
used to trust Redis, then the *local* LIVE file, and to load the version from a local
``indexes/`` that an S3 deployment never fills: every job failed there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch.index.publish import publish_version
from batch.settings import BatchSettings
from core.bootstrap import build_answerer
from core.llm.fake import FakeLLM
from online.refine.config import RefineSettings
from online.refine.worker import RefineWorker, refine_answerer
from tests.conftest import TEST_REDIS_URL
from tests.seaweedfs import SeaweedS3, start_seaweedfs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


def test_the_refine_worker_refines_against_the_live_version_in_s3(
    seaweed: SeaweedS3,
    data_root: Path,
    built_indexes: dict[str, Any],
    client_factory: Any,
    settings_factory: Any,
    encoder: Any,
    redis_client: Any,
    tmp_path: Path,
) -> None:
    s3 = {
        "artifacts_url": f"s3://{seaweed.bucket}/{tmp_path.name}/indexes",
        "s3_endpoint_url": seaweed.endpoint_url,
        "s3_access_key_id": seaweed.access_key,
        "s3_secret_access_key": seaweed.secret_key,
    }
    v2 = built_indexes["v2"]
    # the builder publishes v2 into the bucket (its own disk holds the versions)
    publish_version(
        v2,
        settings=BatchSettings(data_dir=data_root, redis_url=TEST_REDIS_URL, **s3),
        redis_client=redis_client,
    )
    # the service and the worker have nothing on their disks but what they download
    service = settings_factory(data_dir=tmp_path / "service", **s3)
    client, components = client_factory(service, FakeLLM())
    assert components.indexes.require().version == v2
    body = client.post("/v1/query", json={"question": "Where is Tokyo?", "refine": True}).json()
    job_id = body["refine"]["id"]

    worker_settings = RefineSettings(**{**service.model_dump(), "data_dir": tmp_path / "worker"})
    assert not (tmp_path / "worker" / "indexes").exists()
    deep = FakeLLM()
    worker = RefineWorker(
        settings=worker_settings,
        redis=redis_client,
        answerer=refine_answerer(
            worker_settings, build_answerer(worker_settings, encoder=encoder, llm=deep)
        ),
        consumer="s3-worker",
    )
    stats = worker.run(max_jobs=1)

    job = client.get(f"/v1/jobs/{job_id}").json()
    assert stats.done == 1, job
    assert job["status"] == "done"
    assert job["index_version"] == v2
    assert worker.index().version == v2
    assert (tmp_path / "worker" / "index-cache" / v2).is_dir()  # a verified download
    again = client.post("/v1/query", json={"question": "Where is Tokyo?"}).json()
    assert again["cache"] == "exact"
