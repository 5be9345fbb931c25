"""Command line: ``python -m grading ASSIGNMENT`` (what ``make grade ASSIGNMENT=...`` runs).

``python -m grading ASSIGNMENT --scheduler tcp://HOST:8786`` grades on a Dask cluster
(see ``grading.cluster``); the results come back to this process, which writes every output.

``python -m grading check NOTEBOOK`` runs a learner's visible self-checks instead (see
``grading.selfcheck``).

Exit status: 0 every submission was graded (flagged ones are listed in the report),
1 some submission could not be graded (an internal error, listed in the report),
2 a problem with the command or the course set-up.
"""
import argparse
import sys
from pathlib import Path

from grading import judge, pipeline, sandbox


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__.splitlines()[0])
    parser.add_argument("assignment", help="assignment name, e.g. backprop")
    parser.add_argument("--course-dir", type=Path, default=Path.cwd(),
                        help="folder with nbgrader_config.py (default: the current folder)")
    parser.add_argument("--student", action="append", default=[],
                        help="grade only this student (repeatable; default: every folder in submitted/)")
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="submissions graded in parallel (default: one per CPU; not used with --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default="",
                        help="grade on a Dask cluster: one task per submission, sent to the scheduler at "
                             "ADDRESS (e.g. tcp://HOST:8786; README, \"Grading on a Dask cluster\"); "
                             "default: grade on this machine")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code without bubblewrap (flagged on every report line)")
    defaults = judge.Timeouts()
    parser.add_argument("--cell-timeout", type=float, default=defaults.cell, help="seconds per code cell")
    parser.add_argument("--call-timeout", type=float, default=defaults.call,
                        help="seconds per call of a student function")
    parser.add_argument("--part-timeout", type=float, default=defaults.part, help="seconds per graded part")
    parser.add_argument("--notebook-timeout", type=float, default=defaults.notebook,
                        help="seconds for the notebook run that gives the learner's own test results")
    parser.add_argument("--memory-mb", type=int, default=sandbox.Limits().memory_bytes // 2**20,
                        help="address-space limit of a student's process, in MiB")
    parser.add_argument("--disk-mb", type=int, default=sandbox.Limits().disk_bytes // 2**20,
                        help="size of each submission's own disk (a tmpfs), in MiB")
    parser.add_argument("--submission-timeout", type=float, default=sandbox.Limits().wall_seconds,
                        help="wall-time limit of all of a submission's processes together, in seconds")
    parser.add_argument("--no-containment", action="store_true",
                        help="no per-submission cgroup, wall clock or disk, only per-process limits "
                             "(flagged on every report line)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:  # the learner's self-check (grading/selfcheck.py)
        from grading import selfcheck

        return selfcheck.main(argv[1:])
    args = parse_args(argv)
    settings = pipeline.Settings(
        course_dir=args.course_dir, assignment=args.assignment, jobs=args.jobs,
        use_bwrap=not args.no_sandbox, students=tuple(args.student), quiet=args.quiet,
        scheduler=args.scheduler,
        timeouts=judge.Timeouts(cell=args.cell_timeout, call=args.call_timeout, part=args.part_timeout,
                                notebook=args.notebook_timeout),
        limits=sandbox.Limits(memory_bytes=args.memory_mb * 2**20, disk_bytes=args.disk_mb * 2**20,
                              wall_seconds=args.submission_timeout, contain=not args.no_containment),
    )
    try:
        return pipeline.run(settings)
    except pipeline.UsageError as error:
        print(f"python -m grading: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
