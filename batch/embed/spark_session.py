"""A lean Spark session for the embed job.

Local runs (``local[*]``, the default) bind to 127.0.0.1 and use this interpreter for the Python
workers. Under ``spark-submit`` the master and resources come from the submit command, and only
the job's own settings below are added.

GPU on a cluster (Spark 3+ resource scheduling): give each executor a GPU and each task a share
of it, and tell Spark how to discover the devices, e.g.::

    GPUS=$SPARK_HOME/examples/src/main/scripts/getGpusResources.sh
    spark-submit --master spark://host:7077 \\
      --conf spark.executor.resource.gpu.amount=1 \\
      --conf spark.task.resource.gpu.amount=0.25 \\
      --conf spark.executor.resource.gpu.discoveryScript=$GPUS \\
      --conf spark.executor.cores=4 \\
      batch/embed/spark_job.py --date 2024-01-01

``spark.task.resource.gpu.amount=0.25`` lets four tasks share one GPU (each worker process
loads the model once on ``cuda``); use 1 for one task per GPU. On Kubernetes or YARN add
``spark.executor.resource.gpu.vendor=nvidia.com`` (k8s) or the cluster's GPU resource name.
The embed job's device is ``TANDEM_DEVICE`` (``auto`` picks cuda where the worker has one).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from batch.settings import BatchSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

APP_NAME = "tandem-embed"


def launched_by_spark_submit() -> bool:
    """True inside a driver started by ``spark-submit`` (the JVM is already up)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session_conf(settings: BatchSettings, *, submitted: bool) -> dict[str, str]:
    """Spark settings of the job; master, driver memory and Python only when not submitted."""
    conf = {
        "spark.app.name": APP_NAME,
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(max(2, os.cpu_count() or 2)),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "1024",
        "spark.python.worker.reuse": "true",
        "spark.sql.parquet.compression.codec": "snappy",
        "spark.executorEnv.HF_HUB_OFFLINE": "1",
        "spark.executorEnv.TRANSFORMERS_OFFLINE": "1",
        "spark.executorEnv.TOKENIZERS_PARALLELISM": "false",
        "spark.executorEnv.HF_HUB_DISABLE_PROGRESS_BARS": "1",
        # one torch thread per task: the cores are shared between concurrent tasks
        "spark.executorEnv.OMP_NUM_THREADS": "1",
    }
    if not submitted:  # spark-submit decides these (and keeps the job's UI unless told not to)
        conf["spark.ui.enabled"] = "false"
        conf["spark.master"] = settings.spark_master
        conf["spark.driver.memory"] = settings.spark_driver_memory
        if settings.spark_master.startswith("local"):
            conf["spark.driver.host"] = "127.0.0.1"
            conf["spark.driver.bindAddress"] = "127.0.0.1"
    return conf


def get_spark(settings: BatchSettings) -> SparkSession:
    """The process's Spark session for the embed job (created on first use)."""
    submitted = launched_by_spark_submit()
    if not submitted:
        # PySpark starts its workers with $PYSPARK_PYTHON (default "python3"): use this venv's
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if settings.spark_master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in session_conf(settings, submitted=submitted).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    sc = spark.sparkContext
    # the application's id and UI, in the driver's log (under Airflow: the embed task's log)
    log.info(
        "spark session master=%s application_id=%s ui=%s",
        sc.master,
        sc.applicationId,
        sc.uiWebUrl or "disabled",
    )
    return spark


def acquire_spark(settings: BatchSettings) -> tuple[SparkSession, bool]:
    """A session for one job and whether this call created it (only then may the job stop it).

    A session already running in the process (a test fixture, an in-process Airflow task, a
    notebook) is used as it is: it is not reconfigured, and its master wins over
    ``settings.spark_master`` (logged when they differ).
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    existing = SparkSession.getActiveSession()
    if existing is None and SparkContext._active_spark_context is not None:
        existing = get_spark(settings)  # a context started in another thread: wrap, don't own
    if existing is None:
        return get_spark(settings), True
    master = existing.sparkContext.master
    if master != settings.spark_master and not launched_by_spark_submit():
        log.warning(
            "using the process's running Spark session master=%s, not spark_master=%s",
            master,
            settings.spark_master,
        )
    return existing, False
