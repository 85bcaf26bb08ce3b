"""A Spark accumulator that gathers :class:`~batch.embed.encode.WorkerStats` per worker."""

from __future__ import annotations

from pyspark.accumulators import AccumulatorParam

from batch.embed.encode import WorkerStats

StatsMap = dict[str, WorkerStats]


class WorkerStatsParam(AccumulatorParam[StatsMap]):
    """Merges per-worker figures: the highest load count, the sum of rows."""

    def zero(self, value: StatsMap) -> StatsMap:
        return {}

    def addInPlace(self, value1: StatsMap, value2: StatsMap) -> StatsMap:
        for worker, stats in value2.items():
            seen = value1.get(worker)
            if seen is None:
                value1[worker] = stats
            else:
                value1[worker] = WorkerStats(
                    max(seen.loads, stats.loads), stats.device, seen.rows + stats.rows
                )
        return value1
