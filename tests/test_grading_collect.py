"""What enters the grader and what leaves it (issue 11, items 5, 7, 8, 10, 11).

One class is graded once through ``python -m grading backprop --course-dir COURSE``, as an
instructor would: an honest submission beside submissions whose notebook or folder is a
link, a hard link or a FIFO, folder and file names that try to forge report lines, results
of the wrong type, a worker that closes its channel and stays alive, deeply nested JSON, a
huge answer cell, and a notebook whose own tests disagree with the judge. The tests read
every output (``scores.csv``, ``needs-review.txt``, ``results.json``, the feedback pages,
the gradebook) and the exit status.
"""
import csv
import json
import os
import time
from pathlib import Path

import pytest

from adversarial import cases
from grading import feedback, pipeline, repair
from test_grading_pipeline import GRADE_IDS, MAX_TOTAL, grade, gradebook_rows, make_course

pytestmark = pytest.mark.slow
CASES = {case.student: case for case in cases.collect_cases()}
REPORTS = Path(".nbgrader") / "reports" / cases.ASSIGNMENT


class Class:
    def __init__(self, course, process, seconds):
        self.course, self.process, self.seconds = course, process, seconds
        folder = course / REPORTS
        with open(folder / "scores.csv", newline="") as handle:
            self.scores = {row["student"]: row for row in csv.DictReader(handle)}
        self.review_text = (folder / "needs-review.txt").read_text(encoding="utf-8")
        self.review = [line.split("\t") for line in self.review_text.splitlines() if not line.startswith("#")]
        self.results = json.loads((folder / "results.json").read_text())
        self.gradebook, self.submission_counts = gradebook_rows(course)

    def flags(self, student):
        shown = feedback.visible(student)
        return {line[1] for line in self.review if line[0] == shown}

    def details(self, student, kind):
        shown = feedback.visible(student)
        return [line[2] for line in self.review if line[0] == shown and line[1] == kind]

    def page(self, student):
        return (self.course / "feedback" / student / cases.ASSIGNMENT / f"{cases.ASSIGNMENT}.html").read_text()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("collect"))
    # The honest submission first: some cases link to it.
    for case in sorted(CASES.values(), key=lambda case: case.student != "reference"):
        case.build(course, case.student)
    started = time.monotonic()
    process = grade(course, timeout=1200)
    return Class(course, process, time.monotonic() - started)


@pytest.mark.timeout(1500)
def test_the_class_is_graded_with_exit_status_0_and_every_entry_reported(graded):
    assert graded.process.returncode == 0, graded.process.stderr[-3000:]
    # Every entry of submitted/ (dot-folders, links and files included) has a row and a progress line.
    assert set(graded.scores) == {pipeline.csv_name(student) for student in CASES}
    assert set(graded.results) == set(CASES)
    progress = [line for line in graded.process.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == len(CASES)


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("student", sorted(CASES))
def test_each_submission_gets_its_scores_and_report_kinds(graded, student):
    case = CASES[student]
    row = graded.scores[pipeline.csv_name(student)]
    flags = graded.flags(student)
    assert case.flags <= flags, f"missing report lines {case.flags - flags}: {graded.review}"
    assert not (case.forbidden & flags), f"unexpected report lines {case.forbidden & flags}"
    assert set(row["flags"].split(";")) - {""} == flags
    if not case.expected:  # not a folder of its own: reported, never graded, no gradebook row
        assert all(row[grade_id] == "" for grade_id in GRADE_IDS), row
        assert student not in graded.submission_counts
        return
    for grade_id in GRADE_IDS:
        assert float(row[grade_id]) == pytest.approx(case.expected[grade_id], abs=1e-3), (grade_id, row)
    assert float(row["total"]) == pytest.approx(sum(case.expected.values()), abs=1e-3)
    assert float(row["max_total"]) == MAX_TOTAL


@pytest.mark.timeout(1500)
def test_the_honest_student_loses_no_point_and_has_no_report_line(graded):
    assert float(graded.scores["reference"]["total"]) == MAX_TOTAL
    assert graded.flags("reference") == set()
    assert "reference" not in {line[0] for line in graded.review}


# --------------------------------------------------------------------------- item 5: links

@pytest.mark.timeout(1500)
@pytest.mark.parametrize("student, what", [("link-to-solutions", "a symbolic link"),
                                           ("link-to-classmate", "a symbolic link"),
                                           ("hard-link", "a hard link"), ("fifo", "a FIFO")])
def test_a_notebook_that_is_not_a_regular_file_of_its_own_is_refused(graded, student, what):
    details = graded.details(student, "refused-file")
    assert any(detail.startswith(f"backprop.ipynb is {what}") for detail in details), details
    # Nothing was read through it: the page holds none of the solution, the score is 0.
    page = graded.page(student)
    assert "dhidden_pre = relu_backward(dhidden, cache_relu)" not in page
    assert "def affine_forward" not in page
    assert graded.results[student]["parts"]["affine_forward"]["score"] == 0


@pytest.mark.timeout(1500)
def test_links_fifos_and_hard_links_beside_the_notebook_are_not_copied(graded):
    # relu_forward is right only if none of them reached the sandbox (and the regular data file did).
    assert float(graded.scores["honest-with-links"]["total"]) == MAX_TOTAL
    details = graded.details("honest-with-links", "refused-file")
    expected = {"linked.ipynb": "a symbolic link", "peek": "a symbolic link", "pipe": "a FIFO",
                "second-name.txt": "a hard link", "data/deep-link": "a symbolic link"}
    for name, what in expected.items():
        assert any(detail.startswith(f"{name} is {what}") for detail in details), (name, details)
    assert len(details) == len(expected)
    page = graded.page("honest-with-links")
    assert "BEGIN HIDDEN TESTS" not in page and "BEGIN SOLUTION" not in page


@pytest.mark.timeout(1500)
def test_linked_folders_and_stray_files_under_submitted_are_reported_not_followed(graded):
    assert graded.details("linked-student-folder", "refused-file") == [
        "submitted/linked-student-folder is a symbolic link; it was not followed; not graded"]
    assert graded.details("linked-assignment-folder", "refused-file") == [
        "submitted/linked-assignment-folder/backprop is a symbolic link; it was not followed; not graded"]
    assert graded.details("stray-file.txt", "refused-file") == [
        "submitted/stray-file.txt is a file, not a folder; not graded"]
    # The honest student's row was neither duplicated nor changed through the links.
    assert graded.submission_counts["reference"] == 1
    assert all(graded.gradebook["reference", grade_id][0] == cases.POINTS[grade_id] for grade_id in GRADE_IDS)


def test_read_regular_refuses_links_fifos_devices_and_hard_links_without_blocking(tmp_path):
    regular = tmp_path / "regular.txt"
    regular.write_text("ok")
    assert repair.read_regular(regular, 100) == b"ok"
    (tmp_path / "link").symlink_to(regular)
    os.mkfifo(tmp_path / "fifo")
    os.link(regular, tmp_path / "second")
    for name, reason in [("link", "a symbolic link"), ("fifo", "a FIFO"), ("second", "a hard link")]:
        with pytest.raises(repair.Refused, match=reason):
            repair.read_regular(tmp_path / name, 100)
    with pytest.raises(repair.Refused, match="a device file"):
        repair.read_regular(Path("/dev/null"), 100)
    big = tmp_path / "big.txt"
    big.write_text("12")
    with pytest.raises(repair.Refused, match="too large"):
        repair.read_regular(big, 1)


# --------------------------------------------------------------------------- item 7: names

@pytest.mark.timeout(1500)
def test_a_folder_name_with_control_characters_cannot_forge_a_report_line(graded):
    lines = graded.review_text.splitlines()
    body = [line for line in lines if not line.startswith("#")]
    # Every line has exactly three fields and names a student of the class (as shown).
    shown = {feedback.visible(student) for student in CASES}
    for line in body:
        fields = line.split("\t")
        assert len(fields) == 3 and fields[0] in shown, line
    # The forged lines for the honest student do not exist; the forger's lines carry the name escaped.
    assert not [line for line in body if line.startswith("reference\t")]
    forger = feedback.visible(cases.FORGER)
    assert forger.startswith("mallory\\treference\\tpossibly-tampered\\tforged\\nreference")
    assert "\\x1b[2K" in forger and "\\r\\x07" in forger
    (detail,) = graded.details(cases.FORGER, "wrong-file-name")
    assert detail == "expected backprop.ipynb, graded backprop\\nreference\\tinternal-error\\tforged by a file name.ipynb"
    assert "\x1b" not in graded.review_text and "\r" not in graded.review_text and "\x07" not in graded.review_text
    # The CSV (csv module) and results.json give the exact name back; the progress line escapes it.
    assert float(graded.scores[cases.FORGER]["total"]) == MAX_TOTAL
    assert cases.FORGER in graded.results
    assert any(forger in line for line in graded.process.stderr.splitlines() if line.startswith("["))
    assert "\x1b" not in graded.process.stderr
    # The feedback page is found under the real folder name and shows the name escaped.
    page = graded.page(cases.FORGER)
    assert "mallory\\treference" in page and "\x1b" not in page and "\x07" not in page


@pytest.mark.timeout(1500)
def test_dot_folders_are_graded(graded):
    assert float(graded.scores[".dot-student"]["total"]) == MAX_TOTAL
    assert graded.submission_counts[".dot-student"] == 1


def test_visible_escapes_every_control_character_and_backslash():
    assert feedback.visible("a\tb\nc\rd\\e\x1b\x00\u2028\u202e\U000e0001é") == \
        "a\\tb\\nc\\rd\\\\e\\x1b\\x00\\u2028\\u202e\\U000e0001é"
    # Distinct names stay distinct once escaped.
    assert feedback.visible("a\\tb") != feedback.visible("a\tb")


def test_a_student_named_on_the_command_line_must_be_one_folder_name(tmp_path):
    course = make_course(tmp_path / "course")
    for name in ["../reference", ".."]:
        process = grade(course, "--student", name, timeout=300)
        assert process.returncode == 2 and "expected the name of one folder in submitted/" in process.stderr


# --------------------------------------------------------------------------- item 8: types

@pytest.mark.timeout(1500)
@pytest.mark.parametrize("student, grade_id, words", [
    ("complex-result", "affine_forward", "complex numbers"),
    ("complex-result", "relative_error", "complex numbers"),
    ("odd-dtypes", "relu_forward", "strings"),
    ("odd-dtypes", "affine_backward", "structured records"),
])
def test_a_result_that_is_not_real_numbers_is_a_wrong_type_failure(graded, student, grade_id, words):
    part = graded.results[student]["parts"][grade_id]
    assert part["score"] == 0
    text = " ".join(part["messages"])
    assert "wrong type" in text and words in text and "expected real numbers" in text, text
    assert "wrong type" in graded.page(student)


@pytest.mark.timeout(1500)
def test_an_object_array_result_fails_as_not_numeric(graded):
    # An object array cannot cross as .npy: it stays in the worker, and the check's conversion fails.
    part = graded.results["odd-dtypes"]["parts"]["softmax_cross_entropy"]
    assert part["score"] == 0
    assert any("dscores is not a numeric array" in message for message in part["messages"]), part


def test_decode_accepts_real_arrays_only():
    import numpy as np

    from grading import protocol

    for array in [np.zeros(2), np.arange(3), np.array([True]), np.float32([1.5])]:
        arrays = []
        tree = protocol.encode(array, arrays)
        assert protocol.decode(tree, arrays).dtype == array.dtype
    wrong = [np.zeros(2, complex), np.array(["1.0"]), np.array([b"1"]), np.zeros(2, [("v", "f8")]),
             np.array(["2020-01-01"], dtype="datetime64[D]"), np.complex128(1j), np.str_("1.0"), 1j]
    for value in wrong:
        arrays = []
        tree = protocol.encode(value, arrays, make_handle=lambda obj: 0)
        with pytest.raises(protocol.WrongType, match="wrong type: got .*expected real numbers"):
            protocol.decode(tree, arrays)


# --------------------------------------------------------------------------- item 10: the student's faults

@pytest.mark.timeout(900)
def test_a_worker_that_closes_its_channel_and_stays_alive_is_the_students_fault(tmp_path):
    course = make_course(tmp_path / "course")
    case = cases.closes_channel_case()
    for build, student in ((CASES["reference"].build, "reference"), (case.build, case.student)):
        build(course, student)
    process = grade(course, timeout=800)
    graded = Class(course, process, 0.0)
    assert process.returncode == 0, process.stderr[-3000:]
    details = graded.details(case.student, "channel-closed")
    # The judge's call of relu_forward, and the notebook's own cells that call it, each lose the channel.
    assert any(detail.startswith("relu_forward: ") for detail in details), graded.review
    assert all("closed its channel to the judge" in detail for detail in details), graded.review
    for grade_id in GRADE_IDS:
        assert float(graded.scores[case.student][grade_id]) == case.expected[grade_id], grade_id
    assert float(graded.scores["reference"]["total"]) == MAX_TOTAL and graded.flags("reference") == set()


@pytest.mark.timeout(1500)
def test_deeply_nested_json_is_the_students_fault(graded):
    for student in ("deep-json", "nested-json"):
        (detail,) = graded.details(student, "deeply-nested-notebook")
        assert "nests its JSON" in detail
        assert graded.submission_counts[student] == 1  # a row of zeros, as for an unreadable notebook


@pytest.mark.timeout(1500)
def test_a_huge_answer_cell_is_the_students_fault_and_the_rest_is_graded(graded):
    (detail,) = graded.details("huge-answer-cell", "oversized-cell")
    assert "answer_gradient_check" in detail and f"{repair.MAX_CELL_CHARS:,}" in detail
    assert float(graded.scores["huge-answer-cell"]["total"]) == MAX_TOTAL - cases.POINTS["relative_error"]
    assert len(graded.page("huge-answer-cell")) < 1_000_000


# --------------------------------------------------------------------------- item 11: disagreement

@pytest.mark.timeout(1500)
def test_every_part_where_the_notebook_and_the_judge_disagree_is_flagged(graded):
    # The student's own cell after answer_affine_forward breaks every test cell that follows it
    # (relative_error's test cell comes before it and passes).
    results = graded.results["breaks-own-tests"]["parts"]
    failed = {grade_id for grade_id, part in results.items() if part["notebook"].startswith("failed")}
    assert failed == set(GRADE_IDS) - {"relative_error"}, results
    flagged = {detail.split(":")[0] for detail in graded.details("breaks-own-tests", "tests-disagree")}
    assert flagged == failed
    # And the other direction, on every part where the notebook's test passed and the judge did not.
    for student, result in graded.results.items():
        for grade_id, part in result["parts"].items():
            if part["notebook"] == "passed" and part["score"] < part["points"]:
                assert any(detail.startswith(f"{grade_id}:") for detail in graded.details(student, "possibly-tampered"))
            if part["notebook"].startswith("failed") and part["score"] >= part["points"]:
                assert any(detail.startswith(f"{grade_id}:") for detail in graded.details(student, "tests-disagree"))


# --------------------------------------------------------------------------- the passes on their own

def test_collect_lists_regular_files_and_refuses_everything_else(tmp_path):
    folder = tmp_path / "submission"
    (folder / "data" / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / "backprop.ipynb").write_text("{}")
    (folder / "data" / "table.csv").write_text("1\n")
    (folder / "data" / ".ipynb_checkpoints" / "backprop-checkpoint.ipynb").write_text("{}")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (folder / "link.txt").symlink_to(outside)
    (folder / "data" / "dir-link").symlink_to(tmp_path)
    os.link(outside, folder / "second-name.txt")
    os.mkfifo(folder / "pipe")
    collected = repair.collect(folder)
    assert collected.files == [Path("backprop.ipynb"), Path("data/table.csv")]
    assert collected.folders == [Path("data")]
    details = sorted(flag.detail for flag in collected.flags)
    assert details == ["data/dir-link is a symbolic link; not read, not copied",
                       "link.txt is a symbolic link; not read, not copied",
                       "pipe is a FIFO (named pipe); not read, not copied",
                       "second-name.txt is a hard link (2 names for one file); not read, not copied"]
    assert {flag.kind for flag in collected.flags} == {"refused-file"}
    target = tmp_path / "scratch"
    assert repair.copy_collected(folder, collected, target) == []
    assert sorted(str(path.relative_to(target)) for path in target.rglob("*")) == [
        "backprop.ipynb", "data", "data/table.csv"]


def test_copy_stops_at_its_byte_budget_and_says_so(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"x" * 60)
    (folder / "b.bin").write_bytes(b"y" * 60)
    flags = repair.copy_collected(folder, repair.collect(folder), tmp_path / "scratch", budget=100)
    assert [flag.detail for flag in flags] == ["b.bin: too large (60 bytes; the limit is 40); not copied"]
    assert (tmp_path / "scratch" / "a.bin").read_bytes() == b"x" * 60


def test_locate_takes_no_link_as_the_notebook(tmp_path):
    folder = tmp_path / "backprop"
    folder.mkdir()
    real = tmp_path / "elsewhere.ipynb"
    real.write_text("{}")
    (folder / "backprop.ipynb").symlink_to(real)
    collected = repair.collect(folder)
    path, flags = repair.locate(folder, "backprop", collected)
    assert path is None
    assert [(flag.kind, flag.detail) for flag in flags] == [
        ("missing-notebook", "backprop.ipynb is not a regular file of the submission (see refused-file)")]
    (folder / "backprop (1).ipynb").write_text("{}")
    path, flags = repair.locate(folder, "backprop", repair.collect(folder))
    assert path == folder / "backprop (1).ipynb" and flags[0].kind == "wrong-file-name"


@pytest.mark.parametrize("depth, readable", [(repair.MAX_NOTEBOOK_DEPTH - 2, True),
                                             (repair.MAX_NOTEBOOK_DEPTH + 1, False), (50_000, False)])
def test_parse_bytes_refuses_json_nested_past_the_limit(depth, readable):
    # {"cells": [], "metadata": {"x": [[...]]}}: the list adds depth - 2 levels to the 2 above it.
    text = '{"cells": [], "metadata": {"x": ' + "[" * (depth - 2) + "]" * (depth - 2) + "}}"
    data, flag = repair.parse_bytes(text.encode(), "backprop.ipynb")
    if readable:
        assert flag is None and data["cells"] == []
    else:
        assert data is None and flag.kind == "deeply-nested-notebook"


def test_parse_bytes_refuses_a_notebook_over_the_size_limit():
    data, flag = repair.parse_bytes(b" " * (repair.MAX_NOTEBOOK_BYTES + 1), "backprop.ipynb")
    assert data is None and flag.kind == "notebook-too-large"


def test_repair_grades_the_stub_for_an_oversized_answer_and_keeps_the_rest(tmp_path):
    template = repair.Template.load(cases.REPO / "solutions" / cases.ASSIGNMENT / f"{cases.ASSIGNMENT}.ipynb",
                                    cases.REPO / "exercises" / cases.ASSIGNMENT / f"{cases.ASSIGNMENT}.ipynb")
    huge = "x = 1\n" + "#" * repair.MAX_CELL_CHARS
    notebook = cases.answered({"answer_relu_forward": huge}, add_after={"answer_affine_forward": [huge, "y = 2\n"]})
    repaired = repair.repair(notebook, template)
    oversized = [flag.detail for flag in repaired.flags if flag.kind == "oversized-cell"]
    assert len(oversized) == 2 and any("answer_relu_forward" in detail for detail in oversized)
    assert template.stubs["answer_relu_forward"] in repaired.judge_cells
    assert "y = 2\n" in repaired.judge_cells and huge not in repaired.judge_cells
    assert cases.solution_answers()["answer_affine_forward"] in repaired.judge_cells


@pytest.mark.timeout(1500)
def test_a_folder_name_that_is_not_utf8_is_reported_and_the_rest_graded(graded):
    (detail,) = graded.details(cases.NOT_UTF8, "unusable-name")
    assert "not valid UTF-8" in detail
    assert feedback.visible(cases.NOT_UTF8) == "not-utf8-\\udcff"
    assert graded.scores["not-utf8-\\udcff"]["flags"] == "unusable-name"
