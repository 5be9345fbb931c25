"""Issue 11's loose ends, through ``python -m grading backprop`` as an instructor runs it.

- a number sent back as a Python ``str`` (``"0.0123"``) is a wrong type, not the number;
- a code cell that kills the student's process while the worker starts is reported once,
  not once per part;
- a ``submitted/`` built with ``cp -al`` (every file has a second name in the copy it came
  from) is graded, while a file that is also a classmate's is refused for both.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from adversarial import cases
from test_grading_pipeline import GRADE_IDS, MAX_TOTAL, grade, make_course, read_reports

STR_RELATIVE_ERROR = cases.with_gradient_check(cases.fn("""
    _own_relative_error = relative_error

    def relative_error(analytic, numeric):
        return str(float(_own_relative_error(analytic, numeric)))
"""))
STR_LOSS = cases.fn("""
    _own_softmax_cross_entropy = softmax_cross_entropy

    def softmax_cross_entropy(scores, y):
        loss, dscores = _own_softmax_cross_entropy(scores, y)
        return repr(float(loss)), dscores
""")
EXITS = "import os\nos._exit(3)\n"
HONEST_COPIES = ["copied-from-outside", "copied-from-inside"]
SHARED = ["shares-a-file", "classmate-of-sharer"]


class Graded:
    def __init__(self, course, process):
        self.course, self.process = course, process
        self.scores, self.review = read_reports(course)

    def lines(self, student, kind=None):
        return [line[2] for line in self.review if line[0] == student and (kind is None or line[1] == kind)]

    def kinds(self, student):
        return {line[1] for line in self.review if line[0] == student}


def _honest_folder(base, student):
    cases.submit(cases.answered())(base, student)
    folder = base / "submitted" / student / cases.ASSIGNMENT
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("a,b\n1,2\n")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("loose-ends")
    course = make_course(root / "course")
    cases.submit(cases.answered())(course, "reference")
    cases.submit(cases.answered({"answer_gradient_check": STR_RELATIVE_ERROR},
                                add_after={"answer_softmax_cross_entropy": [STR_LOSS]}))(course, "returns-strings")
    cases.submit(cases.answered(add_after={"answer_affine_forward": [EXITS]}))(course, "exits-while-starting")
    # cp -al: one copy kept outside the course folder, one inside it (an instructor's snapshot).
    outside, inside = root / "elsewhere", course / "snapshot"
    for base, student in ((outside, HONEST_COPIES[0]), (inside, HONEST_COPIES[1])):
        _honest_folder(base, student)
        (course / "submitted").mkdir(exist_ok=True)
        subprocess.run(["cp", "-al", str(base / "submitted" / student), str(course / "submitted" / student)],
                       check=True)
    # Two students whose notebooks are one file: a human must decide whose it is.
    original = _honest_folder(course, SHARED[1]) / f"{cases.ASSIGNMENT}.ipynb"
    sharer = course / "submitted" / SHARED[0] / cases.ASSIGNMENT
    sharer.mkdir(parents=True)
    os.link(original, sharer / original.name)
    return Graded(course, grade(course))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_class_is_graded_with_exit_status_0(graded):
    assert graded.process.returncode == 0, graded.process.stderr[-3000:]
    assert float(graded.scores["reference"]["total"]) == MAX_TOTAL
    assert graded.kinds("reference") == set()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_number_returned_as_a_string_is_a_wrong_type(graded):
    row = graded.scores["returns-strings"]
    assert float(row["relative_error"]) == 0 and float(row["softmax_cross_entropy"]) == 0, row
    # The other parts keep their points: only the parts whose result was a string lose them.
    for grade_id in set(GRADE_IDS) - {"relative_error", "softmax_cross_entropy", "two_layer_net"}:
        assert float(row[grade_id]) == cases.POINTS[grade_id], (grade_id, row)
    page = (graded.course / "feedback" / "returns-strings" / cases.ASSIGNMENT / f"{cases.ASSIGNMENT}.html").read_text()
    assert "wrong type: got a Python str" in page and "expected real numbers" in page
    # The notebook's own self-check uses the same conversion: it fails too, so no disagreement.
    assert "possibly-tampered" not in graded.kinds("returns-strings")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_cell_that_kills_the_worker_at_start_is_reported_once(graded):
    row = graded.scores["exits-while-starting"]
    assert float(row["total"]) == 0, row
    died = graded.lines("exits-while-starting", "kernel-died")
    starting = [line for line in died if line.startswith("while running the code cells")]
    assert len(starting) == 1, died
    assert "exited with status 3" in starting[0]
    assert not any(line.startswith(f"{grade_id}:") for line in died for grade_id in GRADE_IDS), died


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("student", HONEST_COPIES)
def test_a_submission_copied_with_cp_al_is_graded(graded, student):
    folder = graded.course / "submitted" / student / cases.ASSIGNMENT
    assert os.stat(folder / f"{cases.ASSIGNMENT}.ipynb").st_nlink == 2  # the test built what it means to
    assert float(graded.scores[student]["total"]) == MAX_TOTAL
    assert graded.kinds(student) == set(), graded.lines(student)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("student", SHARED)
def test_a_file_shared_by_two_submissions_is_refused_for_both(graded, student):
    assert float(graded.scores[student]["total"]) == 0
    assert any("a hard link (2 names for one file) to a file elsewhere in the course" in line
               for line in graded.lines(student, "refused-file")), graded.lines(student)


# --------------------------------------------------------------------------- the rule on its own

def test_hard_links_the_rule_accepts_and_refuses(tmp_path):
    from grading import repair

    course = tmp_path / "course"
    own = course / "submitted" / "ann" / "backprop"
    own.mkdir(parents=True)
    (course / "solutions").mkdir()
    (course / "solutions" / "key.txt").write_text("answers")
    (own / "notes.txt").write_text("mine")
    os.link(own / "notes.txt", own / "notes-again.txt")                 # two names in her own folder
    os.link(course / "solutions" / "key.txt", own / "key.txt")           # a second name of the solutions
    (tmp_path / "backup" / "ann" / "backprop").mkdir(parents=True)
    (own / "copied.txt").write_text("mine too")
    os.link(own / "copied.txt", tmp_path / "backup" / "ann" / "backprop" / "copied.txt")  # cp -al, outside
    (course / "old" / "ann" / "backprop").mkdir(parents=True)
    (own / "snap.txt").write_text("snapshot")
    os.link(own / "snap.txt", course / "old" / "ann" / "backprop" / "snap.txt")        # cp -al, inside
    (course / "old" / "bob" / "backprop").mkdir(parents=True)
    (own / "bobs.txt").write_text("bob's")
    os.link(own / "bobs.txt", course / "old" / "bob" / "backprop" / "bobs.txt")         # another student's path
    links = repair.HardLinks(course, "ann", "backprop")
    collected = repair.collect(own, links)
    assert collected.files == [Path(name) for name in ["copied.txt", "notes-again.txt", "notes.txt", "snap.txt"]]
    assert sorted(flag.detail for flag in collected.flags) == [
        f"{name} is a hard link (2 names for one file) to a file elsewhere in the course; not read, not copied"
        for name in ["bobs.txt", "key.txt"]]
    assert repair.read_regular(own / "snap.txt", 100, links) == b"snapshot"
    with pytest.raises(repair.Refused, match="to a file elsewhere in the course"):
        repair.read_regular(own / "key.txt", 100, links)
    # Without the submission's rule (the default), every file with two names is refused.
    assert repair.collect(own).files == []
    # A file of another user with two names: its other names could be anywhere.
    if os.geteuid() == 0:
        os.chown(own / "notes.txt", 12345, -1)
        with pytest.raises(repair.Refused, match=r"owned by another user \(uid 12345\)"):
            repair.read_regular(own / "notes.txt", 100, links)
    other_user = repair.HardLinks(course, "ann", "backprop", uid=os.geteuid() + 1)
    with pytest.raises(repair.Refused, match="owned by another user"):
        repair.read_regular(own / "snap.txt", 100, other_user)
