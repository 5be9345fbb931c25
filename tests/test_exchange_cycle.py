"""The whole nbgrader exchange cycle with nbgrader's own commands and ``python -m grading``.

An instructor's course in a temporary folder with a filesystem exchange
(``c.Exchange.root``) and three students: ``release_assignment``; each student
``fetch_assignment``, runs the released notebook in their own home (nbclient, the course's
kernel) and ``submit``s; ``collect``; ``python -m grading``; ``release_feedback``; each
student ``fetch_feedback`` gets their own page and nobody else's. Then: a late
submission is late with nbgrader's penalty in ``nbgrader export``; a resubmission
(``collect --update``) is graded and fetched as the new page; ``generate_feedback --force``
puts no hidden test on any page.

Run as root (as CI does), each student is a Unix user of their own (``useradd``, home mode
0700, commands under ``runuser`` with umask 077), removed at the end, so the exchange's
permissions are real. Not as root, the students share the test's user and differ by home
folder and ``--student``.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from adversarial import cases

pytestmark = pytest.mark.slow

REPO = cases.REPO
ASSIGNMENT = cases.ASSIGNMENT
COURSE_ID = "nn-from-the-neuron-up"  # as nbgrader_config.py says
BIN = Path(sys.executable).parent
CACHE = Path(".local", "share", "jupyter", "nbgrader_cache", COURSE_ID)  # nbgrader submit's copies, in a home
AS_ROOT = os.geteuid() == 0
FAST = ["--call-timeout", "5", "--cell-timeout", "20", "--part-timeout", "30", "--notebook-timeout", "90"]
HIDDEN_MARKS = ("HIDDEN TESTS", "hidden=True")
WRONG_RELU = cases.ABS_RELU  # costs relu_forward and two_layer_net (cases.py, "wrong-relu")
WRONG_LOSS = cases.POINTS["relu_forward"] + cases.POINTS["two_layer_net"]


class Student:
    """One student: a name, a home folder (mode 0700), and a way to run commands as them."""

    def __init__(self, name, home):
        self.name, self.home = name, home

    def env(self):
        return {"HOME": str(self.home), "PATH": f"{BIN}:/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1",
                "LANG": "C.UTF-8"}

    def run(self, *command, check=True, timeout=300):
        """Run ``command`` in the student's home, as the student's user when the test is root."""
        shell = 'umask 077 && cd "$HOME" && exec "$@"'
        if AS_ROOT:
            argv = [*shared_python(), "runuser", "-u", self.name, "--", "env", "-i",
                    *(f"{k}={v}" for k, v in self.env().items()), "sh", "-c", shell, "sh", *command]
        else:
            argv = ["env", "-i", *(f"{k}={v}" for k, v in self.env().items()), "sh", "-c", shell, "sh", *command]
        process = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check:
            assert process.returncode == 0, f"{command} as {self.name}:\n{process.stdout}\n{process.stderr}"
        return process

    def nbgrader(self, *args, **kwargs):
        # Not root: one user for everyone, so the student id is given; as root nbgrader takes the login.
        student = [] if AS_ROOT else [f"--student={self.name}"]
        return self.run(str(BIN / "nbgrader"), *args, *student, **kwargs)

    def write(self, relative, text):
        """Write a file in the student's home as if they had saved it (their owner, mode 0600)."""
        path = self.home / relative
        path.write_text(text)
        path.chmod(0o600)
        if AS_ROOT:
            shutil.chown(path, self.name, self.name)

    def feedback_pages(self):
        """{timestamp folder: page text} of the fetched feedback in the student's home."""
        folder = self.home / ASSIGNMENT / "feedback"
        if not folder.is_dir():
            return {}
        return {entry.name: (entry / f"{ASSIGNMENT}.html").read_text() for entry in sorted(folder.iterdir())
                if (entry / f"{ASSIGNMENT}.html").is_file()}

    def cached_submissions(self):
        """{timestamp: submission_secret} of the student's own cached submissions (``nbgrader submit``)."""
        cache = self.home / CACHE
        return {(entry / "timestamp.txt").read_text(): (entry / "submission_secret.txt").read_text()
                for entry in cache.iterdir()}


def shared_python():
    """A command prefix under which the students can run the course's Python (root only).

    On a JupyterHub the course environment is installed where every user can read it. Here
    the interpreter may live in a folder only root may enter (``/root/.pyenv``): the prefix
    runs the command in a mount namespace (bubblewrap) where that folder is an empty tmpfs
    holding only the Python install, read-only. Nothing else changes: the students' homes,
    the exchange and the course keep their real owners and modes.
    """
    prefix = Path(sys.base_prefix).resolve()
    closed = next((folder for folder in reversed(prefix.parents) if not os.stat(folder).st_mode & 0o001), None)
    if closed is None:
        return []
    argv = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", str(closed)]
    for folder in sorted((f for f in prefix.parents if closed in f.parents), key=lambda f: len(f.parts)):
        argv += ["--perms", "0711", "--dir", str(folder)]  # bwrap would make them 0700
    return argv + ["--ro-bind", str(prefix), str(prefix), "--die-with-parent", "--"]


def add_student(base, short):
    tag = uuid.uuid4().hex[:6]
    name = f"x{tag}{short}"
    home = base / "home" / name
    home.mkdir(parents=True)
    if AS_ROOT:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--user-group",
                        "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
        shutil.chown(home, name, name)
    home.chmod(0o700)
    return Student(name, home)


def remove_student(student):
    if AS_ROOT:
        # Every command of the student's was waited for, so no process of theirs is left.
        return subprocess.run(["userdel", student.name], capture_output=True, text=True)


def submission_notebook(replace=None):
    return json.dumps(cases.answered(replace=replace), indent=1)


def instructor(course, *command, check=True, timeout=900):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", OPENBLAS_NUM_THREADS="1")
    process = subprocess.run([str(c) for c in command], cwd=course, env=env, capture_output=True, text=True,
                             timeout=timeout)
    if check:
        assert process.returncode == 0, f"{command}:\n{process.stdout}\n{process.stderr}"
    return process


def grade(course):
    return instructor(course, sys.executable, "-m", "grading", ASSIGNMENT, "--course-dir", course, *FAST)


def export(course):
    instructor(course, BIN / "nbgrader", "export")
    with open(course / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def run_notebook(student):
    """Execute the student's notebook in their home as them, with the course's kernel."""
    script = (
        "import sys, nbformat, nbclient\n"
        f"nb = nbformat.read('{ASSIGNMENT}/{ASSIGNMENT}.ipynb', as_version=4)\n"
        f"nbclient.NotebookClient(nb, timeout=120, kernel_name='python3', resources={{'metadata': {{'path': "
        f"'{ASSIGNMENT}'}}}}).execute()\n"
        "print('\\n'.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code' for o in c.outputs"
        " if o.get('output_type') == 'stream'))\n"
    )
    return student.run(sys.executable, "-c", script, timeout=300)


@pytest.fixture(scope="module")
def cycle():
    """The cycle up to each student's first fetch_feedback; yields what later tests build on."""
    base = Path(tempfile.mkdtemp(prefix="exchange-cycle-"))
    base.chmod(0o755)  # students walk through it to the exchange and their homes
    students = []
    try:
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)  # nbgrader's filesystem exchange: writable by all, sticky-free
        course = base / "course"
        course.mkdir(mode=0o700)
        shutil.copy(REPO / "nbgrader_config.py", course)
        for kind in ("solutions", "exercises"):
            shutil.copytree(REPO / kind / ASSIGNMENT, course / kind / ASSIGNMENT)
        with open(course / "nbgrader_config.py", "a") as handle:
            handle.write(f'\nc.Exchange.root = "{exchange}"\n'
                         'c.LateSubmissionPlugin.penalty_method = "zero"\n')
        students = [add_student(base, short) for short in ("alice", "bob", "carol")]
        for student in students:
            student.write("nbgrader_config.py", f'c = get_config()\nc.Exchange.root = "{exchange}"\n'
                                                f'c.CourseDirectory.course_id = "{COURSE_ID}"\n')
        alice, bob, carol = students
        instructor(course, BIN / "nbgrader", "db", "assignment", "add", ASSIGNMENT,
                   "--duedate=2099-01-01 00:00:00 UTC")
        instructor(course, BIN / "nbgrader", "release_assignment", ASSIGNMENT)

        runs = {}
        answers = {alice.name: None, bob.name: {"answer_relu_forward": WRONG_RELU}, carol.name: None}
        for student in students:
            student.nbgrader("fetch_assignment", ASSIGNMENT)
            student.write(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb", submission_notebook(answers[student.name]))
            if student is alice:
                runs[student.name] = run_notebook(student)
        for student in (alice, bob):
            student.nbgrader("submit", ASSIGNMENT)
        time.sleep(1.5)
        due = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        time.sleep(1.5)
        carol.nbgrader("submit", ASSIGNMENT)  # after the due date set below
        instructor(course, BIN / "nbgrader", "db", "assignment", "add", ASSIGNMENT, f"--duedate={due}")

        collected = instructor(course, BIN / "nbgrader", "collect", ASSIGNMENT)
        graded = grade(course)
        released = instructor(course, BIN / "nbgrader", "release_feedback", ASSIGNMENT)
        for student in students:
            student.nbgrader("fetch_feedback", ASSIGNMENT)
        yield dict(base=base, course=course, exchange=exchange, students=students, runs=runs,
                   collected=collected, graded=graded, released=released, due=due)
    finally:
        removed = [remove_student(student) for student in students]
        shutil.rmtree(base, ignore_errors=True)
        failed = [process.stderr for process in removed if process is not None and process.returncode]
        assert not failed, f"userdel failed: {failed}"


def test_released_notebook_runs_in_a_students_home(cycle):
    alice = cycle["students"][0]
    output = cycle["runs"][alice.name].stdout
    for part in cases.POINTS:
        assert f"{part}: self-check passed" in output, output
    assert not any(mark in output for mark in HIDDEN_MARKS)


def test_each_student_fetches_their_own_page_and_nobody_elses(cycle):
    alice, bob, carol = cycle["students"]
    full = sum(cases.POINTS.values())
    expected = {alice.name: full, bob.name: full - WRONG_LOSS, carol.name: full}
    for student in cycle["students"]:
        pages = student.feedback_pages()
        submitted = student.cached_submissions()
        assert list(pages) == list(submitted), f"{student.name}: {pages.keys()} for submissions {submitted.keys()}"
        (page,) = pages.values()
        assert f"feedback for {student.name}" in page
        assert f"Score: {expected[student.name]:g} / {full:g}" in page
        for other in cycle["students"]:
            if other is not student:
                assert other.name not in page
                # Nobody can read another student's home, so nobody learns another's secret.
                (secret_file,) = (other.home / CACHE).glob("*/submission_secret.txt")
                probe = student.run("cat", str(secret_file), check=False)
                if AS_ROOT:
                    assert probe.returncode != 0 and "Permission denied" in probe.stderr
    feedback_dir = cycle["exchange"] / COURSE_ID / "feedback"
    assert len(list(feedback_dir.glob("*.html"))) == 3
    if AS_ROOT:
        listing = bob.run("ls", str(feedback_dir), check=False)
        assert listing.returncode != 0, "students must not list the released pages"


def test_feedback_folder_holds_the_current_submissions_files(cycle):
    course = cycle["course"]
    for student in cycle["students"]:
        (secret,) = student.cached_submissions().values()
        for step in ("submitted", "feedback", "autograded"):
            folder = course / step / student.name / ASSIGNMENT
            assert (folder / "submission_secret.txt").read_text() == secret, step


def test_late_submission_has_nbgraders_penalty_in_export(cycle):
    alice, bob, carol = cycle["students"]
    rows = export(cycle["course"])
    full = sum(cases.POINTS.values())
    for student in (alice, bob):
        row = rows[student.name]
        assert row["timestamp"] and row["timestamp"] < row["duedate"], row
        assert float(row["late_submission_penalty"]) == 0.0
    late = rows[carol.name]
    assert late["timestamp"] > late["duedate"], late
    assert float(late["raw_score"]) == full
    assert float(late["late_submission_penalty"]) == full  # penalty_method "zero": the whole score
    assert float(late["score"]) == 0.0


def test_resubmission_is_graded_and_fetched_as_the_new_page(cycle):
    alice = cycle["students"][0]
    course = cycle["course"]
    full = sum(cases.POINTS.values())
    (first,) = alice.feedback_pages()
    alice.write(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb", submission_notebook({"answer_relu_forward": WRONG_RELU}))
    time.sleep(1.1)
    alice.nbgrader("submit", ASSIGNMENT)
    instructor(course, BIN / "nbgrader", "collect", "--update", ASSIGNMENT)
    grade(course)
    instructor(course, BIN / "nbgrader", "release_feedback", ASSIGNMENT)
    alice.nbgrader("fetch_feedback", ASSIGNMENT)
    pages = alice.feedback_pages()
    submitted = alice.cached_submissions()
    assert sorted(pages) == sorted(submitted) and len(pages) == 2
    (second,) = set(pages) - {first}
    assert f"Score: {full:g} / {full:g}" in pages[first]
    assert f"Score: {full - WRONG_LOSS:g} / {full:g}" in pages[second]
    assert (course / "feedback" / alice.name / ASSIGNMENT / "submission_secret.txt").read_text() == \
        submitted[second]


def test_nbgrader_generate_feedback_puts_no_hidden_test_on_a_page(cycle):
    course = cycle["course"]
    names = [student.name for student in cycle["students"]]
    forced = instructor(course, BIN / "nbgrader", "generate_feedback", "--force", ASSIGNMENT)
    for name in names:
        page = (course / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "relu_forward" in page, forced.stderr  # nbgrader's page of this notebook
        assert not any(mark in page for mark in HIDDEN_MARKS), name
        assert "What the grader found" not in page
        assert (course / "feedback" / name / ASSIGNMENT / "submission_secret.txt").is_file()
    # nbgrader's pages can still be released; grading again brings the grader's pages back.
    instructor(course, BIN / "nbgrader", "release_feedback", ASSIGNMENT)
    grade(course)
    for name in names:
        page = (course / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "What the grader found" in page


def test_release_files_are_read_only_from_small_regular_files_of_nbgraders_form(tmp_path):
    from grading import feedback

    submission, page_dir = tmp_path / "submission", tmp_path / "feedback"
    submission.mkdir()
    page_dir.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("ab" * 64)
    (submission / "submission_secret.txt").symlink_to(elsewhere)
    (submission / "timestamp.txt").write_text("2026-12-04 13:00:00.000000 UTC")
    found = feedback.read_release_files(submission)
    assert found == {"timestamp.txt": "2026-12-04 13:00:00.000000 UTC"}  # the link is not followed
    (submission / "submission_secret.txt").unlink()
    (submission / "submission_secret.txt").write_text("../../not-a-secret")
    assert "submission_secret.txt" not in feedback.read_release_files(submission)
    # An earlier submission's copies are removed when the current one lacks the file.
    (page_dir / "submission_secret.txt").write_text("cd" * 64)
    feedback.file_release_files(found, page_dir)
    assert sorted(p.name for p in page_dir.iterdir()) == ["timestamp.txt"]
    assert (page_dir / "timestamp.txt").read_text() == found["timestamp.txt"]
