"""Grading a whole class for one assignment: ``python -m grading ASSIGNMENT``.

For every entry of nbgrader's ``submitted/`` (each ``<student>/<assignment>/`` folder; an
entry that is not a real folder, or whose name is not UTF-8, is reported with its reason):

1. collect the submission's regular files (links, hard links, FIFOs and devices are
   refused and reported, never followed), read the notebook within its size and nesting
   limits, check and repair it against the source (``repair``);
2. grade it: the judge calls the student's functions in a sandboxed worker and scores
   each part with the assignment's checks (``judge``), then runs the whole notebook in
   the same sandbox for the learner's own test results;
3. write ``feedback/<student>/<assignment>/<notebook>.html`` and the repaired notebook
   ``autograded/<student>/<assignment>/<notebook>.ipynb``.

Submissions are graded in parallel by worker processes; only this (main) process
writes the gradebook, one student per locked transaction, as results arrive. At the
end it writes ``.nbgrader/reports/<assignment>/scores.csv`` (scores per student and
part, read back from the gradebook), ``needs-review.txt`` (every submission that needs a
human look; names and details with visible escapes, see ``feedback.visible``) and
``results.json``. What each report kind means, who must act on it and whether it changes
the exit status is the table ``REPORT_KINDS``.
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

from grading import containment, feedback, judge, repair, sandbox, secret
from grading.checks import load as load_checks

OUTPUT_CAP_CHARS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of report line: who must act, what it means, and what it changes."""

    who: str            # "student": the submission caused it (a human reviews it, the student is told);
                        # "instructor": the grader or the course set-up (fix it, then grade again);
                        # "nobody": a note for the record
    meaning: str
    exit_status: int = 0    # the exit status of the run when a submission has this kind (0: no change)
    on_feedback: bool = False   # shown to the student in the notes of the feedback page


# The one table of report kinds: the progress line, needs-review.txt, the feedback page's
# notes and the exit status are decided from it, and the README's table is checked against
# it (tests/test_grading_kinds.py). A kind that is not here counts as the instructor's
# fault with exit status 1, so a new kind cannot slip by unnoticed.
REPORT_KINDS = {
    "timeout": Kind("student", "a call, a part, a code cell or the notebook run exceeded its time limit; "
                    "the part scores 0", on_feedback=True),
    "kernel-died": Kind("student", "the student's process died (os._exit, a crash, memory); the part "
                        "scores 0", on_feedback=True),
    "channel-closed": Kind("student", "the student's process closed its channel to the grader and stayed "
                           "alive; it was killed, the part scores 0", on_feedback=True),
    "output-capped": Kind("student", "the code printed more than the cap; the rest was discarded",
                          on_feedback=True),
    "possibly-tampered": Kind("student", "the notebook's own test cell passed, the judge gave less than full "
                              "points"),
    "tests-disagree": Kind("student", "the judge gave full points, the notebook's own test cell failed"),
    "protocol-error": Kind("student", "the student's process sent a malformed reply; the part scores 0"),
    "tampering": Kind("student", "the student's process wrote onto the judge's channel (a message the judge "
                      "did not ask for, out of order or malformed); the part scores 0"),
    "nnlib-called": Kind("student", "a function under the part's nnlib ban called nnlib while the judge ran it; "
                         "the part scores 0"),
    "nnlib-import": Kind("student", "the submitted source uses nnlib in a function under the ban; flagged for a "
                         "human, points unchanged"),
    "nnlib-copy": Kind("student", "a function under the ban is a copy of an nnlib function with names changed; "
                       "flagged for a human, points unchanged"),
    "dynamic-code": Kind("student", "the submitted source builds code or imports at run time (exec, eval, "
                         "__import__, importlib); flagged for a human, points unchanged"),
    "reads-course-files": Kind("student", "the submitted source opens or lists files by a path naming the "
                               "course's folders; flagged for a human, points unchanged"),
    "altered-test-cell": Kind("student", "a test cell or its points were edited; the original was restored",
                              on_feedback=True),
    "deleted-test-cell": Kind("student", "a test cell is missing; it was re-inserted", on_feedback=True),
    "renamed-grade-id": Kind("student", "a test cell under another grade_id; removed, the original restored",
                             on_feedback=True),
    "stripped-test-cell": Kind("student", "a test cell without its grading metadata; removed, the original "
                               "restored", on_feedback=True),
    "duplicate-grade-id": Kind("student", "a grade_id used twice; a test copy is removed, an answer copy "
                               "graded as the student's own code", on_feedback=True),
    "altered-locked-cell": Kind("student", "a read-only cell was edited; the original was restored",
                                on_feedback=True),
    "deleted-answer-cell": Kind("student", "an answer cell is missing; its empty stub is graded",
                                on_feedback=True),
    "altered-answer-cell": Kind("student", "an answer cell changed its cell type", on_feedback=True),
    "unknown-grade-id": Kind("student", "a cell with a grade_id the source does not have; graded as the "
                             "student's own code", on_feedback=True),
    "malformed-cell": Kind("student", "an entry of the cell list is not a cell; ignored", on_feedback=True),
    "oversized-cell": Kind("student", "a code cell, or all code cells together, exceed the size limit; "
                           "that cell is not graded", on_feedback=True),
    "tampered-schema": Kind("student", "nbgrader schema versions were changed; restored", on_feedback=True),
    "wrong-kernelspec": Kind("student", "the notebook names another kernel; the source's is used",
                             on_feedback=True),
    "nbformat": Kind("student", "the notebook's format version is not 4; read as version 4"),
    "wrong-file-name": Kind("student", "the notebook has another file name; it was graded", on_feedback=True),
    "missing-notebook": Kind("student", "no notebook (or no folder) for the assignment; scores 0",
                             on_feedback=True),
    "unreadable-notebook": Kind("student", "the notebook is not valid JSON of a notebook; scores 0",
                                on_feedback=True),
    "notebook-too-large": Kind("student", "the notebook file exceeds the size limit; not read, scores 0",
                               on_feedback=True),
    "deeply-nested-notebook": Kind("student", "the notebook's JSON nests deeper than the limit; not read, "
                                   "scores 0", on_feedback=True),
    "unusable-name": Kind("student", "a folder name under submitted/ that is not valid UTF-8; not graded "
                          "(rename the folder)"),
    "refused-file": Kind("student", "a link, hard link, FIFO, device or unreadable entry in the submission "
                         "(or submitted/ itself); not read, not copied", on_feedback=True),
    "memory-limit": Kind("student", "the submission's processes together reached its memory limit; they were "
                         "killed, the part scores 0", on_feedback=True),
    "process-limit": Kind("student", "the submission reached its limit on the number of processes; further "
                          "forks failed", on_feedback=True),
    "wall-time-limit": Kind("student", "the submission ran past its wall-clock limit; every process of it was "
                            "killed, the parts not yet graded score 0", on_feedback=True),
    "disk-limit": Kind("student", "the submission filled its own disk (a size-limited tmpfs); writes failed",
                       on_feedback=True),
    "limit-not-enforced": Kind("nobody", "this machine (or --no-containment) leaves a per-submission limit "
                               "unenforced; the line names it"),
    "manual-grade-kept": Kind("nobody", "a manual grade from formgrader overrides the automatic one"),
    "no-sandbox": Kind("instructor", "graded with --no-sandbox: the student's code ran with the grader's "
                       "rights"),
    "check-error": Kind("instructor", "a check itself failed; the part is 0 until someone looks", 1),
    "internal-error": Kind("instructor", "the grader failed on this submission; nothing was recorded", 1),
}
# The judge's names for how a worker failed (``judge.WorkerFailed.kind``) -> report kinds.
JUDGE_EVENTS = {"died": "kernel-died", "protocol": "protocol-error", "closed": "channel-closed"}
UNKNOWN_KIND = Kind("instructor", "a report kind missing from grading.pipeline.REPORT_KINDS", 1)


WHO = {"student": "student", "instructor": "instructor", "nobody": "nobody (a note)"}


def kinds_table():
    """The README's table of report kinds, as Markdown, from ``REPORT_KINDS``."""
    lines = ["| Kind | Who must act | What it means | Exit status | On the feedback page |",
             "| --- | --- | --- | --- | --- |"]
    for name, kind in REPORT_KINDS.items():
        status = f"{kind.exit_status}" if kind.exit_status else "unchanged"
        lines.append(f"| `{name}` | {WHO[kind.who]} | {kind.meaning} | {status} | "
                     f"{'yes' if kind.on_feedback else 'no'} |")
    return "\n".join(lines) + "\n"


def kind_of(name):
    """The ``Kind`` of report kind ``name`` (unknown kinds count as the instructor's, exit status 1)."""
    return REPORT_KINDS.get(name, UNKNOWN_KIND)


def exit_status(results):
    """0, or the largest exit status among the kinds of every submission's report lines."""
    return max((kind_of(kind).exit_status for result in results.values() for kind, _ in result["flags"]),
               default=0)


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
    scheduler: str = ""                 # a Dask scheduler's address: grade there (grading/cluster.py)


@dataclasses.dataclass
class Course:
    """What nbgrader_config.py says, and the assignment's notebook and checks."""

    root: Path
    db_url: str
    course_id: str
    template: repair.Template
    source_path: Path
    parts: list
    collect: object = repair.collect    # step 1's walk (a Dask worker replays the instructor's, cluster.py)


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
    """Every entry of ``submitted/``, dot-folders and entries that are not folders included.

    Each is graded or, when it is not a real folder (a link, a file), reported with the
    reason (``refused-file``): nothing under ``submitted/`` is skipped silently.
    """
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(submitted))


def usable_name(name):
    """True if ``name`` (a folder name as the file system gave it) is valid UTF-8 text.

    Names that are not (bytes Python shows as surrogates) cannot be stored in the gradebook
    or a UTF-8 report: they are reported as ``unusable-name`` and not graded.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def csv_name(name):
    """The student column of scores.csv: the name itself (the csv module quotes it), escaped if unusable."""
    return name if usable_name(name) else feedback.visible(name)


def check_student_name(name):
    """A student named on the command line must be one folder name of ``submitted/``."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UsageError(f"--student {feedback.visible(name)!s}: expected the name of one folder in submitted/")
    return name


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
    if not usable_name(student):
        flags.append(("unusable-name", "the folder name is not valid UTF-8, so it cannot be a student id in "
                                       "the gradebook; rename the folder and grade again"))
        result["record"] = False
        result["parts"] = {part.grade_id: _part_row(part, 0.0, ["the submission's folder name is not usable"],
                                                    "not run") for part in course.parts}
        return
    # 1. Collect: only real folders and regular files with a single name are read.
    exists = True
    for shown, path in ((f"submitted/{student}", folder.parent), (f"submitted/{student}/{assignment}", folder)):
        try:
            repair.check_folder(path)
        except FileNotFoundError:
            exists = False
            break
        except repair.Refused as refused:
            flags.append(("refused-file", f"{shown} {refused}; not graded"))
            exists = False
            break
    hard_links = repair.HardLinks(course.root, student, assignment)
    collected = course.collect(folder, hard_links) if exists else repair.Collected([], [], [])
    # nbgrader's timestamp.txt and submission_secret.txt of this (the current) submission.
    release = feedback.read_release_files(folder) if exists else {}
    result["timestamp"] = release.get("timestamp.txt", "").strip() or None
    flags += [(flag.kind, flag.detail) for flag in collected.flags]
    path, found = repair.locate(folder, template.name, collected) if exists else (None, [])
    if not exists and not any(kind == "refused-file" for kind, _ in flags):
        flags.append(("missing-notebook", "no submission folder"))
    flags += [(flag.kind, flag.detail) for flag in found]
    data = None
    if path is not None:
        data, problem = repair.read_notebook(path, hard_links)
        if problem:
            flags.append((problem.kind, problem.detail))
    if data is None:
        # A student with no folder for this assignment did not submit: report, but no gradebook row.
        result["record"] = exists
        result["parts"] = {part.grade_id: _part_row(part, 0.0, ["no readable notebook was submitted"], "not run")
                           for part in course.parts}
        _write_feedback(settings, course, student, result, [], release)
        return
    repaired = repair.repair(data, template)
    flags += [(flag.kind, flag.detail) for flag in repaired.flags]
    _save_notebook(course.root / "autograded" / student / assignment / f"{template.name}.ipynb", repaired.notebook)

    scratch_root = Path(tempfile.mkdtemp(prefix=f"grading-{assignment}-"))
    contained = None
    try:
        contained = containment.start(scratch_root, settings.limits)  # its own cgroup, wall clock, tmpfs
        submission = scratch_root / "submission"
        flags += [(flag.kind, flag.detail) for flag in repair.copy_collected(folder, collected, submission,
                                                                                 hard_links=hard_links)]
        (scratch_root / "grading").symlink_to(sandbox.GRADING_DIR)  # for --no-sandbox runs
        sandbox.prepare_scratch(submission)
        names = {name for part in course.parts for name in part.functions}
        session = judge.Session(submission, repaired.judge_cells, names, settings.limits, settings.timeouts,
                                settings.use_bwrap, hidden=secret.hidden_inputs(course.root, assignment),
                                student_cells=repaired.student_cells)
        outcomes = {part.grade_id: session.run_part(part) for part in course.parts}
        cell_results = session.run_notebook(repaired.run_cells)
        session.close()
    finally:
        if contained is not None:
            contained.close()
        shutil.rmtree(scratch_root, ignore_errors=True)
    flags += contained.report()

    for kind, text in session.events:
        flags.append((JUDGE_EVENTS.get(kind, kind), text))
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
        given = f"{round(outcome.fraction * part.points, 4):g}/{part.points:g}"
        if cell is not None and cell["ok"] and outcome.fraction < 1.0:
            flags.append(("possibly-tampered", f"{part.grade_id}: the notebook's own test cell passed, "
                                               f"the judge gave {given}"))
        elif cell is not None and not cell["ok"] and outcome.fraction >= 1.0:
            flags.append(("tests-disagree", f"{part.grade_id}: the judge gave {given}, the notebook's own "
                                            f"test cell failed ({cell['error'][:200]})"))
        result["parts"][part.grade_id] = _part_row(part, outcome.fraction, outcome.messages, notebook)
    _write_feedback(settings, course, student, result, repaired.student_cells, release)


def _part_row(part, fraction, messages, notebook):
    score = round(min(max(fraction, 0.0), 1.0) * float(part.points), 4)
    return {"score": score, "points": float(part.points), "messages": list(messages), "notebook": notebook}


def _save_notebook(path, notebook):
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def _write_feedback(settings, course, student, result, student_cells, release):
    rows = [dict(grade_id=grade_id, **row) for grade_id, row in result["parts"].items()]
    total = sum(row["score"] for row in rows)
    max_total = sum(row["points"] for row in rows)
    notes = [detail for kind, detail in result["flags"] if kind_of(kind).on_feedback]
    page = feedback.render(student, settings.assignment, rows, total, max_total, student_cells, notes)
    path = course.root / "feedback" / student / settings.assignment / f"{course.template.name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    # Beside the page (and the graded notebook) what nbgrader's release_feedback needs.
    autograded = course.root / "autograded" / student / settings.assignment
    feedback.file_release_files(release, path.parent, *([autograded] if autograded.is_dir() else []))


# --------------------------------------------------------------------------- the class

def run(settings):
    """Grade the class; returns the process exit status (0 ok, 1 some submission not graded)."""
    # nbgrader runs `alembic` by name when it creates a gradebook: use this environment's.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    course = load_course(settings)
    try:
        secret.load_or_create(course.root)  # created here, before the pool forks, on first use
    except secret.SecretError as error:
        raise UsageError(str(error)) from None
    if settings.use_bwrap and not sandbox.bwrap_available():
        raise UsageError(f"{sandbox.BWRAP} not found: install bubblewrap (apt-get install bubblewrap) "
                         "or pass --no-sandbox on a machine where that is acceptable")
    containment.sweep()  # groups and mounts left by a grader killed with SIGKILL
    warning = containment.support_for(settings.limits).warning()
    if warning:
        print(f"python -m grading: {warning}", file=sys.stderr, flush=True)
    students = [check_student_name(name) for name in settings.students] or \
        discover_students(course.root, settings.assignment)
    log = _Progress(len(students), settings.quiet)
    results = {}
    with _executor(settings, course) as pool:
        futures = {pool.submit(_grade_in_pool, settings, student): student for student in students}
        # The pool grades while this process loads nbgrader (seconds) and registers the
        # assignment; it forked before, so no database connection is shared with it.
        from grading.gradebook import Writer, late_penalty_plugin

        writer = Writer(course.db_url, course.course_id, late_penalty=late_penalty_plugin(settings.course_dir))
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
    scores = writer.final_scores(settings.assignment, course.template.name, [s for s in students if usable_name(s)],
                                 [part.grade_id for part in course.parts])
    writer.close()
    paths = write_reports(course, settings, results, scores)
    log.finish(results, paths)
    return exit_status(results)


def _executor(settings, course):
    """Where submissions are graded: forked processes here, or a Dask cluster (``--scheduler``)."""
    if settings.scheduler:
        from grading import cluster

        return cluster.Executor(settings, course)
    _FORKED["course"] = course
    return concurrent.futures.ProcessPoolExecutor(max_workers=max(1, settings.jobs or multiprocessing.cpu_count()),
                                                  mp_context=multiprocessing.get_context("fork"),
                                                  initializer=_die_with_parent)


def _record(writer, settings, course, result):
    """Write one student's scores (only graded ones; never after an internal error)."""
    if not result["parts"] or not result.get("record", True) or \
            any(kind == "internal-error" for kind, _ in result["flags"]):
        return
    scores = {grade_id: row["score"] for grade_id, row in result["parts"].items()}
    kept = writer.record(settings.assignment, course.template.name, result["student"], scores,
                         timestamp=result.get("timestamp"))
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
            writer.writerow([csv_name(student), *("" if value is None else f"{value:g}" for value in values),
                             f"{total:g}", f"{max_total:g}", ";".join(kinds)])
    review_path = folder / "needs-review.txt"
    lines = [f"# Submissions of {settings.assignment} that need a human look: student<TAB>kind<TAB>detail",
             "# (tabs, line breaks, other control characters and backslashes in names and details are "
             "written as Python escapes: \\t \\n \\x1b \\\\)"]
    for student in sorted(results):
        for kind, detail in results[student]["flags"]:
            lines.append("\t".join(feedback.visible(field) for field in (student, kind, detail)))
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
        self.note(f"[{self.done:>{len(str(self.total))}}/{self.total}] {feedback.visible(result['student']):<24} "
                  f"{total:>6g} / {points:g}  {result['seconds']:5.1f} s  {', '.join(kinds)}")

    def finish(self, results, paths):
        elapsed = time.monotonic() - self.started
        flagged = sorted(student for student, result in results.items()
                         if any(kind_of(kind).who != "nobody" for kind, _ in result["flags"]))
        per = elapsed / len(results) if results else 0.0
        self.note(f"graded {len(results)} submissions in {elapsed:.1f} s ({per:.2f} s each); "
                  f"{len(flagged)} need a human look")
        for name, path in paths.items():
            self.note(f"  {name}: {path}")
