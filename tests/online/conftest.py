"""Fixtures of the online tests: a tiny corpus indexed with the real encoder and FAISS (built
once per session with ``core.index.writer.write_index_version``), settings pointing at the test
Redis database, apps wired with a fake or the real LLM, and a real uvicorn server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.index.trust import record_published
from core.llm.base import LLMBackend
from core.llm.fake import FakeLLM
from online.app import create_app
from online.components import Components, build_components
from online.settings import OnlineSettings
from shared_schemas.hashing import chunk_id_for, content_hash, normalize_text
from shared_schemas.layout import LIVE_POINTER
from tests.conftest import TEST_REDIS_URL

CORPUS: list[tuple[str, str, str]] = [
    ("paris", "Paris", "Paris is the capital and largest city of France, on the river Seine."),
    ("berlin", "Berlin", "Berlin is the capital of Germany and its most populous city."),
    ("rome", "Rome", "Rome is the capital city of Italy, founded, legend says, in 753 BC."),
    ("sb50", "Super Bowl 50", "The Denver Broncos won Super Bowl 50 in February 2016."),
    ("sb49", "Super Bowl 49", "The New England Patriots won Super Bowl 49 in February 2015."),
    ("nile", "Nile", "The Nile is a river in Africa, about 6,650 kilometres long."),
    ("amazon", "Amazon", "The Amazon river in South America carries the most water."),
    ("everest", "Everest", "Mount Everest, 8,849 metres high, is the highest mountain on Earth."),
    ("python", "Python", "Python is a programming language created by Guido van Rossum in 1991."),
    ("moon", "Moon", "Apollo 11 landed the first humans on the Moon in July 1969."),
]
EXTRA_DOC = ("tokyo", "Tokyo", "Tokyo is the capital of Japan and the seat of its government.")


def _chunk_table(docs: list[tuple[str, str, str]]) -> Any:
    import pyarrow as pa

    rows = {"chunk_id": [], "doc_id": [], "title": [], "text": [], "content_hash": []}
    for doc_id, title, text in docs:
        rows["chunk_id"].append(chunk_id_for(doc_id, normalize_text(text)))
        rows["doc_id"].append(doc_id)
        rows["title"].append(title)
        rows["text"].append(text)
        rows["content_hash"].append(content_hash(text))
    return pa.table(rows)


@pytest.fixture(scope="session")
def encoder() -> Any:
    from core.encoder import get_encoder

    return get_encoder(device="cpu")


@pytest.fixture(scope="session")
def built_indexes(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> dict[str, Any]:
    """Two versions: ``v1`` (the corpus) and ``v2`` (corpus + one more document)."""
    from core.index.writer import write_index_version

    root = tmp_path_factory.mktemp("online-indexes")
    out: dict[str, Any] = {"root": root}
    for name, docs in (("v1", CORPUS), ("v2", [*CORPUS, EXTRA_DOC])):
        table = _chunk_table(docs)
        vecs = encoder.encode([f"{t}\n{x}" for _, t, x in docs])
        manifest = write_index_version(
            table,
            vecs,
            indexes_dir=root / "indexes",
            embedding_model=encoder.model_id,
            source_snapshot=name,
            run_date=date(2026, 1, 1),
        )
        out[name] = manifest.index_version
    return out


@pytest.fixture
def data_root(tmp_path: Path, built_indexes: dict[str, Any]) -> Path:
    """A private data dir holding copies of both versions, with v1 live."""
    root = tmp_path / "var"
    shutil.copytree(built_indexes["root"] / "indexes", root / "indexes")
    staging = root / "indexes" / ".staging"
    if staging.exists():
        shutil.rmtree(staging)
    (root / "indexes" / LIVE_POINTER).write_text(built_indexes["v1"])
    for version in (built_indexes["v1"], built_indexes["v2"]):  # as if both had been published
        record_published(root / "indexes", version)
    return root


def make_settings(data_root: Path, **overrides: Any) -> OnlineSettings:
    base: dict[str, Any] = {
        "data_dir": data_root,
        "redis_url": TEST_REDIS_URL,
        "device": "cpu",
        "reload_poll_s": 0.2,
        "semantic_threshold": 0.95,
        # the limits' own tests turn them on (tests/online/test_limits.py); elsewhere one test
        # client sends more than a client would be allowed
        "rate_limits": {"enabled": False},
    }
    base.update(overrides)
    return OnlineSettings(**base)


@pytest.fixture
def settings_factory(data_root: Path) -> Callable[..., OnlineSettings]:
    return lambda **kw: make_settings(data_root, **kw)


@pytest.fixture(scope="session")
def real_llm() -> Any:
    """The bundled SmolLM2 GGUF in-process (transformers), loaded once per session."""
    from core.llm.local import TransformersLocalLLM
    from shared_schemas.config import LLM_MODEL_ID

    return TransformersLocalLLM(model_id=LLM_MODEL_ID, device="cpu", max_time_s=60)


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


def app_with(settings: OnlineSettings, llm: LLMBackend, encoder: Any) -> tuple[FastAPI, Components]:
    components = build_components(settings, encoder=encoder, llm=llm)
    return create_app(settings, components=components), components


@pytest.fixture
def client_factory(
    encoder: Any, redis_client: Any
) -> Iterator[Callable[..., tuple[TestClient, Components]]]:
    """``make(settings, llm)`` → a started TestClient and its components."""
    stack: list[TestClient] = []

    def make(settings: OnlineSettings, llm: LLMBackend) -> tuple[TestClient, Components]:
        app, components = app_with(settings, llm, encoder)
        client = TestClient(app)
        client.__enter__()
        stack.append(client)
        return client, components

    yield make
    for client in reversed(stack):
        client.__exit__(None, None, None)


def flush_querylog(client: TestClient, components: Components) -> None:
    portal = client.portal
    assert portal is not None
    portal.call(components.querylog.flush)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(app: FastAPI, **deadlines: float) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free loopback port, as ``tandem serve`` runs it
    (``deadlines``: ``header_timeout_s``, ``body_timeout_s``); yields its base URL."""
    import uvicorn

    from online.server import uvicorn_config

    port = free_port()
    config = uvicorn_config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **deadlines
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)  # waiting for start-up, not synchronising test steps
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
