"""Seconds per submission of ``python -m grading`` on a simulated class of backprop notebooks.

Builds a temporary course (this repository's nbgrader_config.py, source and released
backprop notebooks) with a class of simulated submissions: mostly correct, some with a
wrong layer, an overflowing softmax, an input-mutating forward pass or nothing done
(built by ``tests/adversarial/cases.py``). Grades it once with the real command and
prints the wall time, seconds per submission amortized over the class, and the fixed
start-up cost (the same command on an empty class), twice in the same run: first with
``--no-containment`` (per-process rlimits only: the grader before per-submission
containment), then with each submission in its own cgroup, wall clock and tmpfs
(``grading.containment``; the default). Goal: at most 0.5 s per submission amortized with
containment; nbgrader's sequential autograde takes about 2.6 s per student here.

    .venv/bin/python benchmarks/bench_grading.py [--students 60] [--jobs N] [--no-sandbox]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from adversarial import cases  # noqa: E402 (needs the tests folder on the path)

# One simulated class: (share of the class, answer cell replacements).
MIX = [
    (0.70, {}),
    (0.06, {"answer_affine_forward": cases.NO_BIAS}),
    (0.06, {"answer_relu_forward": cases.ABS_RELU}),
    (0.06, {"answer_softmax_cross_entropy": cases.NAIVE_SOFTMAX}),
    (0.06, {"answer_affine_forward": cases.MUTATING_AFFINE}),
    (0.06, None),  # the released notebook, untouched
]


def build_class(course, students):
    course.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    for kind in ("solutions", "exercises"):
        shutil.copytree(REPO / kind / cases.ASSIGNMENT, course / kind / cases.ASSIGNMENT)
    kinds = []
    for share, replace in MIX:
        kinds += [replace] * round(share * students)
    kinds = (kinds + [{}] * students)[:students]
    for number, replace in enumerate(kinds):
        nb = cases.release_notebook() if replace is None else cases.answered(replace)
        cases.submit(nb)(course, f"student{number:03d}")


def grade(course, extra):
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", "grading", cases.ASSIGNMENT, "--course-dir", str(course),
                              "--quiet", *extra], cwd=REPO, capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"grading failed ({process.returncode}):\n{process.stderr[-3000:]}")
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=0, help="parallel graders (default: one per CPU)")
    parser.add_argument("--no-sandbox", action="store_true", help="grade without bubblewrap")
    args = parser.parse_args()
    extra = ["--jobs", str(args.jobs)] + (["--no-sandbox"] if args.no_sandbox else [])
    mode = "without sandbox" if args.no_sandbox else "in bubblewrap sandboxes"
    for label, more in (("before: per-process limits only (--no-containment)", ["--no-containment"]),
                        ("after: each submission in its own cgroup, wall clock and tmpfs", [])):
        with tempfile.TemporaryDirectory(prefix="bench-grading-") as folder:
            empty = Path(folder) / "empty"
            build_class(empty, 0)
            fixed = grade(empty, extra + more)
            course = Path(folder) / "class"
            build_class(course, args.students)
            total = grade(course, extra + more)
        print(label)
        print(f"  {args.students} backprop submissions graded {mode} in {total:.1f} s")
        print(f"  {total / args.students:.2f} s per submission (amortized; goal <= 0.5 s)")
        print(f"  {(total - fixed) / args.students:.2f} s per submission after the start-up cost of {fixed:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
