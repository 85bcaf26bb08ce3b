"""The embed job as a program: ``python -m batch.embed.spark_job --date YYYY-MM-DD``.

Also runs under ``spark-submit``, which then decides the master and resources::

    PYSPARK_PYTHON=.venv/bin/python SPARK_LOCAL_IP=127.0.0.1 \
      .venv/bin/spark-submit --master 'local[2]' batch/embed/spark_job.py --date YYYY-MM-DD

The workers' Python (``PYSPARK_PYTHON`` or ``spark.pyspark.python``) must have this project
installed; see :mod:`batch.embed.spark_session` for the GPU settings of a cluster.

Prints the run report as JSON on stdout; exits 1 with a message when the snapshot is missing or
the job fails.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="batch.embed.spark_job", description="Embed a snapshot's new chunks with Spark."
    )
    parser.add_argument(
        "--date",
        required=True,
        type=date.fromisoformat,
        help="Run date of the snapshot (YYYY-MM-DD).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from batch.embed.errors import EmbedError
    from batch.embed.run import embed_snapshot
    from batch.settings import get_settings
    from shared_schemas.logging_config import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        report = embed_snapshot(args.date, settings=settings)
    except EmbedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
