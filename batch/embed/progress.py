"""A progress line for a running Spark job: tasks done of total, rows done (estimated from the
equal-sized partitions), elapsed, every ``every_s`` seconds while the job runs.

Spark's status tracker is read from a daemon thread of the driver; nothing is asked of the
workers. The lines go to the log (structured where logging is), one per interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


def job_progress(tracker: Any, group: str, tasks: int) -> tuple[int, int]:
    """(tasks done, ``tasks``) of the stage of the jobs in ``group`` that runs ``tasks`` tasks
    (the one that encodes: earlier stages only read and shuffle); done is 0 until it starts."""
    stages = []
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        if job is not None:
            stages += list(job.stageIds)
    for stage_id in sorted(stages, reverse=True):
        stage = tracker.getStageInfo(stage_id)  # None while a stage waits for its parents
        if stage is not None and int(stage.numTasks) == tasks:
            return int(stage.numCompletedTasks), tasks
    return 0, tasks


@contextmanager
def spark_progress(
    spark_context: Any, *, label: str, rows: int, tasks: int, every_s: float = 5.0
) -> Iterator[None]:
    """Log ``label: tasks d/t, ~rows r/R, N s`` while the body runs a job on ``spark_context``
    whose main stage has ``tasks`` equal partitions of ``rows`` rows."""
    group = f"tandem-{label}-{time.monotonic_ns()}"
    spark_context.setJobGroup(group, label)
    stop = threading.Event()
    started = time.monotonic()

    def report() -> None:
        tracker = spark_context.statusTracker()
        while not stop.wait(every_s):
            try:
                done, total = job_progress(tracker, group, tasks)
            except Exception as exc:  # the session is going away; say nothing more
                log.debug("progress: status tracker unavailable: %s", exc)
                return
            if total:
                log.info(
                    "%s: tasks %d/%d, ~rows %d/%d, %.0f s",
                    label,
                    done,
                    total,
                    rows * done // total,
                    rows,
                    time.monotonic() - started,
                )

    thread = threading.Thread(target=report, name=f"progress-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every_s + 1)
        spark_context.setLocalProperty("spark.jobGroup.id", None)
