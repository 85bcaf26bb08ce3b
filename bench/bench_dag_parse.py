"""How long parsing the dags folder takes, against a folder of trivial DAGs, in the same process.

Two figures per folder:
* in-process: median ``DagBag(folder)`` time over repeats, after a warm-up (the modules the DAG
  files import stay cached, as in a long-lived parser);
* fresh interpreter: median time for a new Python process to import Airflow and fill the
  DagBag (the dag-processor parses each file in a fresh child, so top-level imports count).

Run: ``.venv/bin/python bench/bench_dag_parse.py [--repeat 10] [--fresh 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
TRIVIAL = """
import pendulum
from airflow.sdk import dag, task


@dag(dag_id="baseline_{i}", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def baseline_{i}():
    @task
    def a() -> int:
        return 1

    @task
    def b(x: int) -> int:
        return x

    b(a())


baseline_{i}()
"""


def _bag_seconds(folder: Path) -> tuple[float, int]:
    from airflow.dag_processing.dagbag import DagBag

    t0 = time.perf_counter()
    bag = DagBag(dag_folder=str(folder))
    elapsed = time.perf_counter() - t0
    if bag.import_errors:
        raise SystemExit(f"import errors in {folder}: {bag.import_errors}")
    return elapsed, len(bag.dags)


def _fresh_seconds(folder: Path) -> float:
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(folder)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print('SECONDS', time.perf_counter() - t0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(next(ln for ln in out.splitlines() if ln.startswith("SECONDS")).split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--fresh", type=int, default=3)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-airflow-")
    os.environ.setdefault("AIRFLOW_HOME", home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    with tempfile.TemporaryDirectory(prefix="baseline-dags-") as tmp:
        baseline = Path(tmp)
        n_project = len(list(DAGS.glob("*.py")))
        for i in range(n_project):
            (baseline / f"baseline_{i}.py").write_text(TRIVIAL.format(i=i), encoding="utf-8")
        _bag_seconds(baseline)  # warm-up: Airflow's own imports
        _bag_seconds(DAGS)
        base_runs, proj_runs = [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both equally
            base_runs.append(_bag_seconds(baseline)[0])
            proj_runs.append(_bag_seconds(DAGS)[0])
        base_fresh = [_fresh_seconds(baseline) for _ in range(args.fresh)]
        proj_fresh = [_fresh_seconds(DAGS) for _ in range(args.fresh)]
    b, p = statistics.median(base_runs), statistics.median(proj_runs)
    bf, pf = statistics.median(base_fresh), statistics.median(proj_fresh)
    print(f"files: {n_project} project DAG files vs {n_project} trivial DAG files")
    print(
        f"in-process DagBag  baseline {b * 1000:8.1f} ms  tandem {p * 1000:8.1f} ms  x{p / b:.2f}"
    )
    print(f"fresh interpreter  baseline {bf:8.2f} s   tandem {pf:8.2f} s   x{pf / bf:.2f}")


if __name__ == "__main__":
    main()
