"""Submissions per second of ``python -m grading`` on a Dask cluster (1 and 2 workers) and locally.

In one run: builds a simulated class of backprop submissions (the mix of
``benchmarks/bench_grading.py``), starts a real ``dask scheduler`` and ``dask worker``
processes (one thread each, 127.0.0.1 only, no dashboard; the helper of
``tests/test_grading_dask.py``), and grades a fresh copy of the class three ways: with
the local pool (``--jobs``, default one per CPU), through the scheduler with one worker,
and with two. Prints the wall time of each command and submissions per second, and the
mean seconds one submission takes on a worker (the ``seconds`` of ``results.json``:
the per-submission cost to plan a cluster with), and from the one-worker figure the
worker-hours a 10,000-student course needs and its wall time on 10, 100 and 1,000 workers.

    .venv/bin/python benchmarks/bench_grading_dask.py [--students 30] [--jobs N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_grading import build_class  # noqa: E402 (needs the benchmarks folder on the path)
from test_grading_dask import Cluster  # noqa: E402 (needs the tests folder on the path)

ASSIGNMENT = "backprop"
COURSE = 10_000


def grade(course, extra):
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", "grading", ASSIGNMENT, "--course-dir", str(course), "--quiet",
                              *extra], cwd=REPO, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        sys.exit(f"grading failed ({process.returncode}):\n{process.stderr[-3000:]}")
    results = json.loads((course / ".nbgrader" / "reports" / ASSIGNMENT / "results.json").read_text())
    return elapsed, statistics.mean(result["seconds"] for result in results.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=0, help="local pool size (default: one per CPU)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grading-dask-") as folder:
        folder = Path(folder)

        def fresh(name):
            course = folder / name
            build_class(course, args.students)
            return course

        rows.append((f"local pool (--jobs {args.jobs or 'one per CPU'})",
                     *grade(fresh("local"), ["--jobs", str(args.jobs)])))
        (folder / "cluster").mkdir()
        cluster = None
        try:
            cluster = Cluster(folder / "cluster", workers=1)
            rows.append(("Dask, 1 worker (1 thread)", *grade(fresh("dask1"), ["--scheduler", cluster.address])))
            cluster.add_worker()
            rows.append(("Dask, 2 workers (1 thread each)",
                         *grade(fresh("dask2"), ["--scheduler", cluster.address])))
        finally:
            if cluster is not None:
                cluster.close()
    print(f"{args.students} backprop submissions, sandboxed, on this machine ({len(os.sched_getaffinity(0))} CPUs)")
    for name, elapsed, per in rows:
        print(f"  {name:<34} {elapsed:6.1f} s  {args.students / elapsed:5.2f} submissions/s  "
              f"({per:.2f} s per submission on its worker)")
    per = rows[1][2]  # one worker, one thread: nothing else of the batch competes with its task
    total = COURSE * per
    print(f"{COURSE:,} submissions at {per:.2f} s each (one worker's figure): {total / 3600:.1f} worker-hours; "
          + ", ".join(f"{total / workers / 60:.1f} min on {workers:,} workers" for workers in (10, 100, 1000)))


if __name__ == "__main__":
    main()
