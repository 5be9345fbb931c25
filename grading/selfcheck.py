"""``python -m grading check NOTEBOOK``: the learner's own check before submitting.

Runs the same judge as the grader on the learner's notebook (answers, set-up and the
learner's own cells in a worker process, sandboxed when bubblewrap is there) with the
visible self-check of every graded part, never the hidden tests: the test cells are not
run, and the checks are called with ``hidden=False``. Prints one line per part in the
words of the notebook's self-check cells (``grading.checks.base.describe``); a part that
fails lists the checks' messages, the same messages the feedback page gives.

Exit status: 0 every self-check passed, 1 some did not, 2 a problem with the command.
"""
import argparse
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path

from grading import judge, repair, sandbox
from grading.checks import base
from grading.checks import load as load_checks


class UsageError(Exception):
    """The notebook or the assignment cannot be found or read."""


def visible(part):
    """``part`` with its check always run as the learner-visible self-check."""
    def check(functions, hidden, full_check=part.check):
        return full_check(functions, False)

    return dataclasses.replace(part, check=check)


def check_notebook(path, assignment=None, use_bwrap=None, timeouts=None, limits=None):
    """[(grade_id, points, Result)] of the visible self-checks of the notebook at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no notebook at {path}")
    assignment = assignment or path.stem
    try:
        parts = load_checks(assignment).PARTS
    except ModuleNotFoundError:
        raise UsageError(f"no checks for an assignment named {assignment!r} (from the notebook's name "
                         f"{path.name}); pass --assignment NAME") from None
    data, problem = repair.parse(path)
    if problem:
        raise UsageError(problem.detail)
    # The learner's notebook is its own template: its answer cells are the learner's code.
    template = repair.Template.load(path)
    repaired = repair.repair(data, template)
    if use_bwrap is None:
        use_bwrap = sandbox.bwrap_available()
    scratch_root = Path(tempfile.mkdtemp(prefix=f"selfcheck-{assignment}-"))
    try:
        submission = scratch_root / "submission"
        submission.mkdir()
        for item in path.parent.iterdir():  # data files beside the notebook, not folders
            if item.is_file() and not item.is_symlink() and item.stat().st_size <= 50 * 2**20:
                shutil.copyfile(item, submission / item.name)
        (scratch_root / "grading").symlink_to(sandbox.GRADING_DIR)  # set-up cells look above the notebook
        sandbox.prepare_scratch(submission)
        names = {name for part in parts for name in part.functions}
        session = judge.Session(submission, repaired.judge_cells, names, limits or sandbox.Limits(),
                                timeouts or judge.Timeouts(), use_bwrap)
        outcomes = [(part.grade_id, part.points, session.run_part(visible(part))) for part in parts]
        session.close()
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    return outcomes


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m grading check", description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path, help="your notebook, e.g. backprop.ipynb")
    parser.add_argument("--assignment", help="assignment name (default: the notebook's file name)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the notebook's code without bubblewrap even where it is installed")
    args = parser.parse_args(argv)
    try:
        outcomes = check_notebook(args.notebook, args.assignment, False if args.no_sandbox else None)
    except UsageError as error:
        print(f"python -m grading check: {error}", file=sys.stderr)
        return 2
    for grade_id, points, result in outcomes:
        first, *rest = base.describe(grade_id, result).splitlines()
        print("\n".join([f"{first}  [{points:g} point{'s' if points != 1 else ''}]", *rest]))
    passed = sum(result.fraction >= 1.0 for _, _, result in outcomes)
    print(f"{passed} of {len(outcomes)} self-checks passed; the hidden tests decide the grade.")
    return 0 if passed == len(outcomes) else 1
