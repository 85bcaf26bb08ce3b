"""Refinement: queued by the API, answered by the worker, status readable, cache replaced,
pending jobs reclaimed after a worker dies."""

from __future__ import annotations

from typing import Any

import pytest

from core.bootstrap import build_answerer
from core.llm.fake import FakeLLM
from online.refine.config import RefineSettings
from online.refine.jobs import REFINE_GROUP
from online.refine.worker import RefineWorker, ensure_group, refine_answerer
from shared_schemas.layout import REFINE_STREAM

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _worker(
    settings: Any, encoder: Any, redis_client: Any, llm: FakeLLM, name: str
) -> RefineWorker:
    rs = RefineSettings(**settings.model_dump())
    answerer = refine_answerer(rs, build_answerer(rs, encoder=encoder, llm=llm))
    return RefineWorker(settings=rs, redis=redis_client, answerer=answerer, consumer=name)


def test_refine_job_end_to_end(
    client_factory: Any, settings_factory: Any, encoder: Any, redis_client: Any
) -> None:
    # p3 shows every retrieved passage, so the refine's wider retrieval is visible in its prompt
    # (p4, the default, shows the best one only)
    settings = settings_factory(prompt_version="p3")
    client, _ = client_factory(settings, FakeLLM())
    r = client.post("/v1/query", json={"question": "Who won Super Bowl 50?", "refine": True})
    body = r.json()
    assert body["cache"] == "miss"
    job_id = body["refine"]["id"]
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"

    deep = FakeLLM()  # same model id: the refined answer lands on the service's key
    stats = _worker(settings, encoder, redis_client, deep, "w1").run(max_jobs=1)
    assert stats.done == 1
    assert '<passage id="10"' in deep.last_messages[-1]["content"]  # refine_top_k=10: deeper
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "done"
    assert job["answer"] == "answer: Who won Super Bowl 50?"
    assert job["sources"][0]["doc_id"] == "sb50"
    again = client.post("/v1/query", json={"question": "Who won Super Bowl 50?"}).json()
    assert again["cache"] == "exact"
    assert redis_client.xpending(REFINE_STREAM, REFINE_GROUP)["pending"] == 0
    assert client.get("/v1/jobs/nope").status_code == 404


def test_failed_job_says_why(
    client_factory: Any, settings_factory: Any, encoder: Any, redis_client: Any
) -> None:
    settings = settings_factory()
    client, _ = client_factory(settings, FakeLLM())
    job_id = client.post("/v1/query", json={"question": "Where is Berlin?", "refine": True}).json()[
        "refine"
    ]["id"]
    broken = FakeLLM()
    broken.fail = True
    stats = _worker(settings, encoder, redis_client, broken, "w1").run(max_jobs=1)
    assert stats.failed == 1
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed"
    assert "fake LLM is down" in job["error"]


def test_pending_job_is_reclaimed_after_restart(
    client_factory: Any, settings_factory: Any, encoder: Any, redis_client: Any
) -> None:
    settings = settings_factory()
    client, _ = client_factory(settings, FakeLLM())
    job_id = client.post("/v1/query", json={"question": "Where is Rome?", "refine": True}).json()[
        "refine"
    ]["id"]
    ensure_group(redis_client)
    # a worker reads the job and dies before acknowledging it
    claimed = redis_client.xreadgroup(REFINE_GROUP, "dead", {REFINE_STREAM: ">"}, count=1)
    assert claimed
    assert redis_client.xpending(REFINE_STREAM, REFINE_GROUP)["pending"] == 1
    survivor = _worker(settings.model_copy(), encoder, redis_client, FakeLLM(), "w2")
    survivor.settings = survivor.settings.model_copy(update={"refine_claim_idle_s": 0.001})
    stats = survivor.run(max_jobs=1)
    assert (stats.reclaimed, stats.done) == (1, 1)
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "done"
    assert redis_client.xpending(REFINE_STREAM, REFINE_GROUP)["pending"] == 0
