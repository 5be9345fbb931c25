"""Grading a whole class for one assignment: ``python -m grading ASSIGNMENT``.

For every student folder in nbgrader's ``submitted/<student>/<assignment>/``:

1. find and read the notebook, check and repair it against the source (``repair``);
2. grade it: the judge calls the student's functions in a sandboxed worker and scores
   each part with the assignment's checks (``judge``), then runs the whole notebook in
   the same sandbox for the learner's own test results;
3. write ``feedback/<student>/<assignment>/<notebook>.html`` and the repaired notebook
   ``autograded/<student>/<assignment>/<notebook>.ipynb``.

Submissions are graded in parallel by worker processes; only this (main) process
writes the gradebook, one student per locked transaction, as results arrive. At the
end it writes ``.nbgrader/reports/<assignment>/scores.csv`` (scores per student and
part, read back from the gradebook), ``needs-review.txt`` (every submission that needs a
human look) and ``results.json``.
"""
import concurrent.futures
import csv
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from grading import containment, feedback, judge, repair, sandbox
from grading.checks import load as load_checks

OUTPUT_CAP_CHARS = 1_000_000
MAX_COPY_BYTES = 50 * 2**20
# Flags that are notes for the record rather than a reason to look at the submission.
INFORMATIONAL = {"manual-grade-kept"}


class UsageError(Exception):
    """A problem with the command or the course set-up (not with a submission)."""


@dataclasses.dataclass
class Settings:
    course_dir: Path
    assignment: str
    jobs: int = 0                       # 0: one per CPU
    use_bwrap: bool = True
    students: tuple = ()                # grade only these (default: every folder)
    timeouts: judge.Timeouts = dataclasses.field(default_factory=judge.Timeouts)
    limits: sandbox.Limits = dataclasses.field(default_factory=sandbox.Limits)
    quiet: bool = False


@dataclasses.dataclass
class Course:
    """What nbgrader_config.py says, and the assignment's notebook and checks."""

    root: Path
    db_url: str
    course_id: str
    template: repair.Template
    source_path: Path
    parts: list


def load_course(settings):
    from traitlets.config.loader import PyFileConfigLoader

    course_dir = settings.course_dir.resolve()
    config_file = course_dir / "nbgrader_config.py"
    if not config_file.is_file():
        raise UsageError(f"no nbgrader_config.py in {course_dir}: run from the course folder or pass --course-dir")
    config = PyFileConfigLoader(config_file.name, path=str(course_dir)).load_config()
    directory = config.get("CourseDirectory", {})
    root = Path(directory.get("root", str(course_dir)))
    db_url = directory.get("db_url", f"sqlite:///{root / 'gradebook.db'}")
    if not db_url.startswith("sqlite:///"):
        raise UsageError(f"only SQLite gradebooks are supported, got {db_url}")
    source_dir = root / directory.get("source_directory", "source") / settings.assignment
    release_dir = root / directory.get("release_directory", "release") / settings.assignment
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise UsageError(f"no source notebook in {source_dir}")
    if len(notebooks) > 1:
        raise UsageError(f"{source_dir} holds {len(notebooks)} notebooks; this grader expects one")
    source_path = notebooks[0]
    template = repair.Template.load(source_path, release_dir / source_path.name)
    try:
        parts = list(load_checks(settings.assignment).PARTS)
    except ModuleNotFoundError:
        raise UsageError(f"no checks module grading/checks/{settings.assignment}.py") from None
    points = template.points()
    for part in parts:
        if part.grade_id not in template.test_ids:
            raise UsageError(f"the checks grade {part.grade_id!r}, which is not a test cell of {source_path}")
        if float(part.points) != points[part.grade_id]:
            raise UsageError(f"{part.grade_id}: the checks give {part.points} points, the notebook "
                             f"{points[part.grade_id]}")
    course_id = str(config.get("CourseDirectory", {}).get("course_id", "default_course"))
    return Course(root, db_url, course_id, template, source_path, parts)


def discover_students(root, assignment):
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(path.name for path in submitted.iterdir() if path.is_dir() and not path.name.startswith("."))


# --------------------------------------------------------------------------- one student

_FORKED = {}  # what pool processes inherit at fork: the Course (its checks cannot be pickled)


def _die_with_parent():
    """Pool processes (and so their sandboxes) die when the grader dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _grade_in_pool(settings, student):
    return grade_student(settings, _FORKED["course"], student)


def grade_student(settings, course, student):
    """Grade one submission; never raises (failures become flags). Runs in a pool process."""
    started = time.monotonic()
    result = {"student": student, "flags": [], "parts": {}, "seconds": 0.0}
    try:
        _grade(settings, course, student, result)
    except Exception:  # noqa: BLE001 (a bug of the grader must not stop the batch)
        result["internal_error"] = traceback.format_exc(limit=5)
        result["flags"].append(("internal-error", traceback.format_exc(limit=1).strip().splitlines()[-1]))
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def _grade(settings, course, student, result):
    template, assignment = course.template, settings.assignment
    folder = course.root / "submitted" / student / assignment
    flags = result["flags"]
    if not settings.use_bwrap:
        flags.append(("no-sandbox", "graded with --no-sandbox: student code ran with the grader's rights"))
    path, found = repair.locate(folder, template.name)
    flags += [(flag.kind, flag.detail) for flag in found]
    data = None
    if path is not None:
        data, problem = repair.parse(path)
        if problem:
            flags.append((problem.kind, problem.detail))
    if data is None:
        # A student with no folder for this assignment did not submit: report, but no gradebook row.
        result["record"] = folder.is_dir()
        result["parts"] = {part.grade_id: _part_row(part, 0.0, ["no readable notebook was submitted"], "not run")
                           for part in course.parts}
        _write_feedback(settings, course, student, result, [])
        return
    repaired = repair.repair(data, template)
    flags += [(flag.kind, flag.detail) for flag in repaired.flags]
    _save_notebook(course.root / "autograded" / student / assignment / f"{template.name}.ipynb", repaired.notebook)

    scratch_root = Path(tempfile.mkdtemp(prefix=f"grading-{assignment}-"))
    contained = None
    try:
        contained = containment.start(scratch_root, settings.limits)  # its own cgroup, wall clock, tmpfs
        submission = scratch_root / "submission"
        _copy_submission(folder, submission)
        (scratch_root / "grading").symlink_to(sandbox.GRADING_DIR)  # for --no-sandbox runs
        sandbox.prepare_scratch(submission)
        names = {name for part in course.parts for name in part.functions}
        session = judge.Session(submission, repaired.judge_cells, names, settings.limits, settings.timeouts,
                                settings.use_bwrap)
        outcomes = {part.grade_id: session.run_part(part) for part in course.parts}
        cell_results = session.run_notebook(repaired.run_cells)
        session.close()
    finally:
        if contained is not None:
            contained.close()
        shutil.rmtree(scratch_root, ignore_errors=True)
    flags += contained.report()

    for kind, text in session.events:
        flags.append(({"died": "kernel-died", "protocol": "protocol-error"}.get(kind, kind), text))
    if session.output_chars > OUTPUT_CAP_CHARS:
        flags.append(("output-capped", f"printed {session.output_chars:,} characters; "
                                       f"output beyond the cap was discarded"))
    for part in course.parts:
        outcome = outcomes[part.grade_id]
        position = repaired.test_positions[part.grade_id]
        cell = cell_results[position] if position < len(cell_results) else None
        if cell is None:
            notebook = "not run (the notebook stopped before this cell)"
        elif cell["ok"]:
            notebook = "passed"
        else:
            notebook = "failed: " + cell["error"]
        if cell is not None and cell["ok"] and outcome.fraction < 1.0:
            flags.append(("possibly-tampered", f"{part.grade_id}: the notebook's own test cell passed, "
                                               f"the judge gave {outcome.fraction * part.points:g}/{part.points:g}"))
        result["parts"][part.grade_id] = _part_row(part, outcome.fraction, outcome.messages, notebook)
    _write_feedback(settings, course, student, result, repaired.student_cells)


def _part_row(part, fraction, messages, notebook):
    score = round(min(max(fraction, 0.0), 1.0) * float(part.points), 4)
    return {"score": score, "points": float(part.points), "messages": list(messages), "notebook": notebook}


def _copy_submission(folder, target):
    """Copy the student's folder (regular files only, no links, bounded size) into the scratch."""
    target.mkdir(parents=True)
    budget = MAX_COPY_BYTES
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_symlink() or any(part.startswith(".ipynb_checkpoints") for part in relative.parts):
            continue
        if path.is_dir():
            (target / relative).mkdir(parents=True, exist_ok=True)
        elif path.is_file() and path.stat().st_size <= budget:
            budget -= path.stat().st_size
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)


def _save_notebook(path, notebook):
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


STUDENT_NOTES = {
    "wrong-file-name", "missing-notebook", "unreadable-notebook", "wrong-kernelspec", "duplicate-grade-id",
    "tampered-schema", "altered-test-cell", "altered-locked-cell", "renamed-grade-id", "stripped-test-cell",
    "deleted-test-cell", "deleted-answer-cell", "altered-answer-cell", "unknown-grade-id", "timeout",
    "kernel-died", "output-capped", "memory-limit", "process-limit", "wall-time-limit", "disk-limit",
}


def _write_feedback(settings, course, student, result, student_cells):
    rows = [dict(grade_id=grade_id, **row) for grade_id, row in result["parts"].items()]
    total = sum(row["score"] for row in rows)
    max_total = sum(row["points"] for row in rows)
    notes = [detail for kind, detail in result["flags"] if kind in STUDENT_NOTES]
    page = feedback.render(student, settings.assignment, rows, total, max_total, student_cells, notes)
    path = course.root / "feedback" / student / settings.assignment / f"{course.template.name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


# --------------------------------------------------------------------------- the class

def run(settings):
    """Grade the class; returns the process exit status (0 ok, 1 some submission not graded)."""
    # nbgrader runs `alembic` by name when it creates a gradebook: use this environment's.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    course = load_course(settings)
    if settings.use_bwrap and not sandbox.bwrap_available():
        raise UsageError(f"{sandbox.BWRAP} not found: install bubblewrap (apt-get install bubblewrap) "
                         "or pass --no-sandbox on a machine where that is acceptable")
    containment.sweep()  # groups and mounts left by a grader killed with SIGKILL
    warning = containment.support_for(settings.limits).warning()
    if warning:
        print(f"python -m grading: {warning}", file=sys.stderr, flush=True)
    students = list(settings.students) or discover_students(course.root, settings.assignment)
    log = _Progress(len(students), settings.quiet)
    jobs = settings.jobs or multiprocessing.cpu_count()
    results = {}
    context = multiprocessing.get_context("fork")
    _FORKED["course"] = course
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context,
                                                initializer=_die_with_parent) as pool:
        futures = {pool.submit(_grade_in_pool, settings, student): student for student in students}
        # The pool grades while this process loads nbgrader (seconds) and registers the
        # assignment; it forked before, so no database connection is shared with it.
        from grading.gradebook import Writer

        writer = Writer(course.db_url, course.course_id)
        writer.register_assignment(settings.assignment, course.template)
        for future in concurrent.futures.as_completed(futures):
            student = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 (a grading process died)
                result = {"student": student, "parts": {}, "seconds": 0.0,
                          "flags": [("internal-error", f"the grading process failed: {error!r}")]}
            _record(writer, settings, course, result)
            results[student] = result
            log.student(result)
    scores = writer.final_scores(settings.assignment, course.template.name, students,
                                 [part.grade_id for part in course.parts])
    writer.close()
    paths = write_reports(course, settings, results, scores)
    log.finish(results, paths)
    return 1 if any(kind == "internal-error" for r in results.values() for kind, _ in r["flags"]) else 0


def _record(writer, settings, course, result):
    """Write one student's scores (only graded ones; never after an internal error)."""
    if not result["parts"] or not result.get("record", True) or \
            any(kind == "internal-error" for kind, _ in result["flags"]):
        return
    scores = {grade_id: row["score"] for grade_id, row in result["parts"].items()}
    kept = writer.record(settings.assignment, course.template.name, result["student"], scores)
    for grade_id, (manual, auto) in sorted(kept.items()):
        result["flags"].append(("manual-grade-kept", f"{grade_id}: manual grade {manual:g} kept "
                                                     f"(automatic grade now {auto:g})"))


def write_reports(course, settings, results, scores):
    folder = course.root / ".nbgrader" / "reports" / settings.assignment
    folder.mkdir(parents=True, exist_ok=True)
    grade_ids = [part.grade_id for part in course.parts]
    max_total = sum(float(part.points) for part in course.parts)
    csv_path = folder / "scores.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *grade_ids, "total", "max_total", "flags"])
        for student in sorted(results):
            row = scores.get(student, {})
            values = [row.get(grade_id) for grade_id in grade_ids]
            total = sum(value for value in values if value is not None)
            kinds = sorted({kind for kind, _ in results[student]["flags"]})
            writer.writerow([student, *("" if value is None else f"{value:g}" for value in values),
                             f"{total:g}", f"{max_total:g}", ";".join(kinds)])
    review_path = folder / "needs-review.txt"
    lines = [f"# Submissions of {settings.assignment} that need a human look: student<TAB>kind<TAB>detail"]
    for student in sorted(results):
        for kind, detail in results[student]["flags"]:
            lines.append(f"{student}\t{kind}\t{detail}")
    review_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    json_path = folder / "results.json"
    json_path.write_text(json.dumps({student: results[student] for student in sorted(results)}, indent=1,
                                    sort_keys=True, default=str), encoding="utf-8")
    return {"scores": csv_path, "review": review_path, "results": json_path}


class _Progress:
    def __init__(self, total, quiet):
        self.total, self.done, self.quiet, self.started = total, 0, quiet, time.monotonic()

    def note(self, text):
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def student(self, result):
        self.done += 1
        total = sum(row["score"] for row in result["parts"].values())
        points = sum(row["points"] for row in result["parts"].values())
        kinds = sorted({kind for kind, _ in result["flags"]} - {"no-sandbox"})
        self.note(f"[{self.done:>{len(str(self.total))}}/{self.total}] {result['student']:<24} "
                  f"{total:>6g} / {points:g}  {result['seconds']:5.1f} s  {', '.join(kinds)}")

    def finish(self, results, paths):
        elapsed = time.monotonic() - self.started
        flagged = sorted(student for student, result in results.items()
                         if any(kind not in INFORMATIONAL for kind, _ in result["flags"]))
        per = elapsed / len(results) if results else 0.0
        self.note(f"graded {len(results)} submissions in {elapsed:.1f} s ({per:.2f} s each); "
                  f"{len(flagged)} need a human look")
        for name, path in paths.items():
            self.note(f"  {name}: {path}")
