"""The assignments as a learner meets them (issue 13): visible self-checks and the set-up cell.

- every known common mistake is caught by the visible self-check as well as by the hidden
  tests (they differ in data, not in what they test);
- a self-check cell prints one line per function, raises a one-line error, shows no
  ``Result(...)`` repr;
- the released set-up cell, run from a student's home outside the repository, either
  finds the installed course package or says what is missing and how to get it.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grading.checks import base, load  # noqa: E402

import test_assignments  # noqa: E402 (the backprop mistakes and the other assignments' ones)

# (assignment, function, wrong source): common mistakes beyond test_assignments' lists.
MORE_MISTAKES = [
    ("backprop", "relative_error", """
        def relative_error(analytic, numeric):
            return float(np.max((analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)))
        """),
    ("backprop", "relative_error", """
        def relative_error(analytic, numeric):
            return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic + numeric), 1e-12)))
        """),
    ("backprop", "relative_error", """
        def relative_error(analytic, numeric):
            return float(np.mean(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)))
        """),
    ("backprop", "relative_error", """
        def relative_error(analytic, numeric):
            return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic), 1e-12)))
        """),
]


def mistakes():
    found = [("backprop", name, source) for name, _, source in test_assignments.BUGGY.values()]
    marks = test_assignments.test_other_assignments_name_the_likely_cause.pytestmark
    (parametrize,) = [mark for mark in marks if mark.name == "parametrize"]
    found += [(assignment, name, source) for assignment, name, source, _ in parametrize.args[1]]
    return found + MORE_MISTAKES


MISTAKES = mistakes()


@pytest.mark.parametrize("assignment, name, source", MISTAKES,
                         ids=[f"{a}-{n}-{i}" for i, (a, n, _) in enumerate(MISTAKES)])
def test_the_visible_self_check_catches_what_the_hidden_tests_catch(assignment, name, source):
    solution = test_assignments.solution_namespace(assignment)
    helpers = {"correct_two_layer_net": solution.get("two_layer_net")}
    functions = {**solution, name: test_assignments.define(source, {**solution, **helpers})[name]}
    for part in load(assignment).PARTS:
        if name not in part.functions:
            continue
        visible, hidden = part.check(functions, False), part.check(functions, True)
        assert (visible.fraction < 1) == (hidden.fraction < 1), (
            f"{part.grade_id}: the self-check gives {visible.fraction:.0%}, the hidden tests "
            f"{hidden.fraction:.0%}: {visible.messages} / {hidden.messages}")
    assert any(part.check(functions, False).fraction < 1 for part in load(assignment).PARTS
               if name in part.functions), f"{name}: the mistake passes every self-check"


def test_a_self_check_prints_one_line_and_fails_with_one(capsys):
    solution = test_assignments.solution_namespace("backprop")
    part = load("backprop").PARTS_BY_ID["relative_error"]
    assert base.report(part, solution) is None
    assert capsys.readouterr().out == "relative_error: self-check passed\n"
    stub = {"relative_error": test_assignments.define(
        "def relative_error(a, n):\n    raise NotImplementedError()", {})["relative_error"]}
    with pytest.raises(NotImplementedError) as stubbed:
        base.report(part, stub)
    assert stubbed.value._render_traceback_() == [
        "relative_error: relative_error is not implemented yet: it raised NotImplementedError"]
    wrong = {"relative_error": test_assignments.define(MORE_MISTAKES[0][2], {"np": np})["relative_error"]}
    with pytest.raises(AssertionError) as failed:
        base.report(part, wrong)
    lines = failed.value._render_traceback_()
    assert lines[0].startswith("relative_error: ") and "of the self-check cases passed" in lines[0]
    assert all(line.startswith("  - ") for line in lines[1:]) and len(lines) > 1


# ------------------------------------------------------------------------ the student's home

def setup_code(assignment):
    """The code cells of the released notebook up to and including the checks' import."""
    notebook = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    end = next(i for i, source in enumerate(cells) if "as checks" in source)
    return "\n".join(cells[:end + 1])


@pytest.fixture(scope="module")
def student_python(tmp_path_factory):
    """A fresh venv that sees the course environment's third-party packages but not the course.

    The course environment's site-packages is added by a .pth line, so its editable
    install of the course (itself a .pth file there) is not activated.
    """
    place = tmp_path_factory.mktemp("student-venv")
    venv.EnvBuilder(with_pip=False).create(place)
    python = place / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = next(path for path in sys.path if path.endswith("site-packages") and Path(path).is_dir())
    Path(site, "course-environment.pth").write_text(ours + "\n")
    return python, Path(site)


def run_as_student(python, code, home):
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([str(python), "-c", code], cwd=home, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_set_up_cell_outside_the_course_says_what_is_missing(student_python, tmp_path):
    python, _ = student_python
    home = tmp_path / "home" / "student"
    home.mkdir(parents=True)
    done = run_as_student(python, setup_code("backprop"), home)
    assert done.returncode != 0
    assert "StopIteration" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: This notebook needs the course's package"), done.stderr
    assert "cannot import 'grading'" in last and "%pip install" in last and "exercises/" in last


def test_the_released_notebook_runs_from_a_home_with_the_course_installed(student_python, tmp_path):
    python, site = student_python
    target = tmp_path / "installed"
    # Build from a copy: setuptools leaves a build/ folder in the tree it builds from.
    source = tmp_path / "course-source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    for package in ("nnlib", "explorers", "grading"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True,
                   timeout=300)
    (site / "course-package.pth").write_text(str(target) + "\n")
    try:
        home = tmp_path / "home" / "student"
        home.mkdir(parents=True)
        solution = nbformat.read(ROOT / "solutions" / "backprop" / "backprop.ipynb", as_version=4)
        relative_error = next(c.source for c in solution.cells if "def relative_error" in c.source)
        code = setup_code("backprop") + "\n" + textwrap.dedent(f"""
            import grading.checks
            print("checks from", grading.checks.__file__)
            exec({relative_error!r})
            checks.report("relative_error", globals())
            """)
        done = run_as_student(python, code, home)
        assert done.returncode == 0, done.stderr
        assert f"checks from {target}" in done.stdout
        assert done.stdout.strip().splitlines()[-1] == "relative_error: self-check passed"
        # The package holds the checks' code, never the instructor's notebooks.
        assert not list(target.rglob("*.ipynb")) and not (target / "solutions").exists()
    finally:
        (site / "course-package.pth").unlink()


# ------------------------------------------------------------------------ python -m grading check

def answered_notebook(folder, replace=None):
    """The released backprop notebook with the solution's answers (and ``replace``: grade_id -> source)."""
    solution = nbformat.read(ROOT / "solutions" / "backprop" / "backprop.ipynb", as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in solution.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    answers.update(replace or {})
    notebook = nbformat.read(ROOT / "exercises" / "backprop" / "backprop.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backprop.ipynb"
    nbformat.write(notebook, path)
    return path


def check_command(path, *args):
    return subprocess.run([sys.executable, "-m", "grading", "check", str(path), *args], cwd=path.parent,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


MISSING_MASK = textwrap.dedent(test_assignments.BUGGY["missing ReLU mask"][2])


def likely_causes(text):
    return {line.split("likely cause: ", 1)[1].strip() for line in text.splitlines() if "likely cause: " in line}


@pytest.mark.slow
def test_check_runs_no_hidden_test_and_gives_the_feedback_pages_messages(tmp_path):
    import html

    from test_grading_pipeline import grade, make_course

    course = make_course(tmp_path / "course")
    # The instructor's notebook, hidden tests included, with a hidden test that prints if anything runs it.
    notebook = nbformat.read(ROOT / "solutions" / "backprop" / "backprop.ipynb", as_version=4)
    hidden = 0
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer_relu_backward":
            cell.source = MISSING_MASK
        hidden += "### BEGIN HIDDEN TESTS" in cell.source
        cell.source = cell.source.replace("### BEGIN HIDDEN TESTS\n", "### BEGIN HIDDEN TESTS\nprint('HIDDEN-RAN')\n")
    assert hidden == 7
    (tmp_path / "alice").mkdir()
    answered = tmp_path / "alice" / "backprop.ipynb"
    nbformat.write(notebook, answered)
    done = check_command(answered)
    assert done.returncode == 1, done.stderr
    assert "HIDDEN-RAN" not in done.stdout + done.stderr and "hidden tests passed" not in done.stdout
    assert "seed 11" not in done.stdout  # the hidden cases' data
    lines = done.stdout.splitlines()
    assert lines[-1] == "5 of 7 self-checks passed; the hidden tests decide the grade."
    assert "relu_backward: self-check passed" not in done.stdout
    assert "affine_backward: self-check passed  [3 points]" in lines
    assert any(line.startswith("relu_backward: 0% of the self-check cases passed") for line in lines)

    submitted = course / "submitted" / "alice" / "backprop"
    answered_notebook(submitted, {"answer_relu_backward": MISSING_MASK})
    graded = grade(course, "--student", "alice")
    assert graded.returncode == 0, graded.stderr
    page = html.unescape((course / "feedback" / "alice" / "backprop" / "backprop.html").read_text())
    causes = likely_causes(done.stdout)
    assert causes == {"the ReLU mask is missing: dx equals dout; multiply by (x > 0)"}
    assert causes == likely_causes(re.sub(r"<[^>]+>", "\n", page))


@pytest.mark.slow
def test_check_passes_a_correct_notebook_and_refuses_an_unknown_assignment(tmp_path):
    done = check_command(answered_notebook(tmp_path / "bob"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "7 of 7 self-checks passed; the hidden tests decide the grade."
    other = tmp_path / "bob" / "homework.ipynb"
    other.write_text((tmp_path / "bob" / "backprop.ipynb").read_text())
    refused = check_command(other)
    assert refused.returncode == 2
    assert "no checks for an assignment named 'homework'" in refused.stderr and "--assignment" in refused.stderr
    assert check_command(other, "--assignment", "backprop").returncode == 0
