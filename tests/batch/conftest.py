"""Fixtures for the batch tests: SQuAD slices, batch settings, one Spark session per run."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from batch.corpus import read_bytes
from batch.settings import BatchSettings
from tests.conftest import squad_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SLICE_PARAGRAPHS = 40


@functools.cache
def _squad_bytes() -> bytes:
    return read_bytes(squad_path())


def load_squad() -> dict[str, Any]:
    """The SQuAD v1.1 dev set, parsed (a fresh copy each call; see :func:`squad_path`)."""
    data: dict[str, Any] = json.loads(_squad_bytes())
    return data


def squad_slice(n_paragraphs: int, *, per_article: int = 10) -> dict[str, Any]:
    """The first ``per_article`` paragraphs of successive articles, ``n_paragraphs`` in all.

    Spreading the slice over articles gives distinct titles (useful for retrieval tests).
    """
    data = load_squad()
    articles: list[dict[str, Any]] = []
    left = n_paragraphs
    for article in data["data"]:
        if left <= 0:
            break
        take = article["paragraphs"][: min(per_article, left)]
        articles.append({"title": article["title"], "paragraphs": take})
        left -= len(take)
    return {"version": data.get("version", "1.1"), "data": articles}


def write_squad(path: Path, squad: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(squad), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def squad_slice_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQuAD-format JSON file of the first ~40 paragraphs of the dev set (4 articles)."""
    out = tmp_path_factory.mktemp("squad") / "squad-slice.json"
    return write_squad(out, squad_slice(SLICE_PARAGRAPHS))


@pytest.fixture
def batch_settings(data_dir: Path) -> BatchSettings:
    """Settings writing under the test's own data dir."""
    return BatchSettings(data_dir=data_dir)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session for the whole test run (configured as the embed job's)."""
    from batch.embed.spark_session import get_spark

    session = get_spark(BatchSettings(spark_master="local[2]"))
    yield session
    session.stop()
