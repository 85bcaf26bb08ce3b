"""The progress line of a running Spark job, from the driver's status tracker."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from batch.embed.progress import job_progress, spark_progress

pytestmark = [pytest.mark.integration]


def _slow_rows(rows: Iterator[object]) -> Iterator[object]:
    time.sleep(0.4)  # the work of a task (what is measured), not a synchronisation
    yield from rows


def test_a_running_job_logs_tasks_and_rows_done(
    spark: SparkSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batch.embed.progress")
    sc = spark.sparkContext
    with spark_progress(sc, label="embed", rows=800, tasks=8, every_s=0.1):
        count = sc.parallelize(range(800), 8).mapPartitions(_slow_rows).count()
    assert count == 800
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("embed: tasks")]
    assert lines, "no progress line while the job ran"
    assert all("/8, ~rows " in line and "/800, " in line for line in lines)
    # tasks of the encoding stage only (8 here), counted as they finish
    done = [int(line.split("tasks ")[1].split("/")[0]) for line in lines]
    assert done == sorted(done)
    assert done[-1] <= 8
    # after the body the job group is cleared: later jobs are not counted under it
    assert sc.getLocalProperty("spark.jobGroup.id") is None


def test_progress_of_an_unknown_group_is_nothing(spark: SparkSession) -> None:
    assert job_progress(spark.sparkContext.statusTracker(), "no-such-group", 4) == (0, 4)
