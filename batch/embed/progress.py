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


def job_progress(tracker: Any, group: str) -> tuple[int, int]:
    """(tasks done, tasks in all) of the last stage of the jobs in ``group``: the stage that
    encodes (earlier ones only read and shuffle); (0, 0) before it is known."""
    stages = []
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        if job is not None:
            stages += list(job.stageIds)
    for stage_id in sorted(stages, reverse=True):
        stage = tracker.getStageInfo(stage_id)
        if stage is not None:
            return int(stage.numCompletedTasks), int(stage.numTasks)
    return 0, 0


@contextmanager
def spark_progress(
    spark_context: Any, *, label: str, rows: int, every_s: float = 5.0
) -> Iterator[None]:
    """Log ``label: tasks d/t, ~rows r/R, N s`` while the body runs jobs on ``spark_context``."""
    group = f"tandem-{label}-{time.monotonic_ns()}"
    spark_context.setJobGroup(group, label)
    stop = threading.Event()
    started = time.monotonic()

    def report() -> None:
        tracker = spark_context.statusTracker()
        while not stop.wait(every_s):
            try:
                done, total = job_progress(tracker, group)
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
