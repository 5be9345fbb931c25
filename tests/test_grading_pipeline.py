"""The grading pipeline end to end: ``python -m grading backprop`` on a simulated class.

One module-scoped fixture builds a course in a temporary folder (the repository's
nbgrader_config.py, source and released notebooks) with one submission per row of the
adversarial matrix (``tests/adversarial/cases.py``), grades the whole class once through
the real command, and keeps its exit status, progress output, CSV, review report,
feedback pages and gradebook rows. The tests then check each submission's per-part
scores, total, report lines and gradebook row, and that no submission changed another's.
"""
import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import threading
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adversarial import cases

REPO = cases.REPO
pytestmark = pytest.mark.slow
# Short limits keep the endless loop and the crashes cheap; real runs use the defaults.
FAST = ["--call-timeout", "3", "--cell-timeout", "10", "--part-timeout", "20", "--notebook-timeout", "60"]
GRADE_IDS = list(cases.POINTS)
MAX_TOTAL = sum(cases.POINTS.values())


def make_course(folder, assignment=cases.ASSIGNMENT):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", folder)
    for kind in ("solutions", "exercises"):
        shutil.copytree(REPO / kind / assignment, folder / kind / assignment)
    return folder


def grade(course, *args, timeout=900, assignment=cases.ASSIGNMENT):
    return subprocess.run([sys.executable, "-m", "grading", assignment, "--course-dir", str(course),
                           *FAST, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def read_reports(course, assignment=cases.ASSIGNMENT):
    folder = course / ".nbgrader" / "reports" / assignment
    with open(folder / "scores.csv", newline="") as handle:
        scores = {row["student"]: row for row in csv.DictReader(handle)}
    review = [line.split("\t") for line in (folder / "needs-review.txt").read_text().splitlines()
              if not line.startswith("#")]
    return scores, review


def gradebook_rows(course):
    """{(student, grade_id): (auto_score, manual_score)} and the count of submissions per student."""
    db = sqlite3.connect(f"file:{course / '.nbgrader' / 'gradebook.db'}?mode=ro", uri=True)
    try:
        grades = db.execute(
            "SELECT student.id, base_cell.name, grade.auto_score, grade.manual_score FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id "
            "JOIN base_cell ON grade.cell_id = base_cell.id").fetchall()
        submissions = db.execute("SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id")
        counts = dict(submissions.fetchall())
    finally:
        db.close()
    rows = {}
    for student, grade_id, auto, manual in grades:
        assert (student, grade_id) not in rows, f"duplicated grade row {student} {grade_id}"
        rows[student, grade_id] = (auto, manual)
    return rows, counts


class Graded:
    def __init__(self, course, process, seconds):
        self.course, self.process, self.seconds = course, process, seconds
        self.scores, self.review = read_reports(course)
        self.gradebook, self.submission_counts = gradebook_rows(course)
        self.results = json.loads((course / ".nbgrader" / "reports" / cases.ASSIGNMENT / "results.json").read_text())

    def flags(self, student):
        return {line[1] for line in self.review if line[0] == student}


CASES = {case.student: case for case in cases.cases(Path("/placeholder"))}


class LoopbackListener:
    """A TCP listener on the host's 127.0.0.1 that records every connection it accepts."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, address = self.server.accept()
            except OSError:
                return
            self.accepted.append(address)
            connection.close()

    def close(self):
        self.server.close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def loopback_listener():
    listener = LoopbackListener()
    # The listener works: the test's own process reaches it (and that one connection is forgotten).
    socket.create_connection(("127.0.0.1", listener.port), timeout=5).close()
    deadline = time.monotonic() + 5
    while not listener.accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener.accepted, "the loopback listener accepted nothing from the test itself"
    listener.accepted.clear()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, loopback_listener):
    course = make_course(tmp_path_factory.mktemp("course"))
    for case in cases.cases(course, probe_port=loopback_listener.port):
        case.build(course, case.student)
    started = time.monotonic()
    process = grade(course)
    return Graded(course, process, time.monotonic() - started)


@pytest.mark.timeout(1200)
def test_student_code_cannot_reach_a_listener_on_the_hosts_loopback(graded, loopback_listener):
    # The "network" submission tried to connect while it was graded; no test traffic leaves the machine.
    assert graded.scores["network"]["total"], "the network case was not graded"
    assert loopback_listener.accepted == [], f"the sandbox reached 127.0.0.1: {loopback_listener.accepted}"


@pytest.mark.timeout(1200)
def test_the_class_is_graded_with_progress_and_exit_status_0(graded):
    assert graded.process.returncode == 0, graded.process.stderr[-3000:]
    progress = [line for line in graded.process.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == len(CASES)
    assert f"graded {len(CASES)} submissions" in graded.process.stderr
    assert set(graded.scores) == set(CASES)


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("student", sorted(CASES))
def test_each_submission_gets_its_expected_scores_and_report_lines(graded, student):
    case = CASES[student]
    row = graded.scores[student]
    for grade_id in GRADE_IDS:
        assert float(row[grade_id]) == pytest.approx(case.expected[grade_id], abs=1e-3), (grade_id, row)
        auto, manual = graded.gradebook[student, grade_id]
        assert auto == pytest.approx(case.expected[grade_id], abs=1e-3) and manual is None
    assert float(row["total"]) == pytest.approx(sum(case.expected.values()), abs=1e-3)
    assert float(row["max_total"]) == MAX_TOTAL
    flags = graded.flags(student)
    assert case.flags <= flags, f"missing report lines {case.flags - flags}"
    assert not (case.forbidden & flags), f"unexpected report lines {case.forbidden & flags}"
    assert set(row["flags"].split(";")) - {""} == flags
    assert graded.submission_counts[student] == 1


@pytest.mark.timeout(1200)
def test_every_score_stays_within_its_points_and_no_row_is_duplicated(graded):
    assert len(graded.gradebook) == len(CASES) * len(GRADE_IDS)
    for (student, grade_id), (auto, _) in graded.gradebook.items():
        assert 0 <= auto <= cases.POINTS[grade_id], (student, grade_id, auto)


@pytest.mark.timeout(1200)
def test_nan_from_an_overflowing_softmax_never_passes(graded):
    part = graded.results["overflow-softmax"]["parts"]["softmax_cross_entropy"]
    assert part["score"] == 0
    assert any("NaN or infinite" in message or "overflow" in message for message in part["messages"])


@pytest.mark.timeout(1200)
def test_an_endless_loop_costs_bounded_time(graded):
    assert graded.results["endless-loop"]["seconds"] < 150


@pytest.mark.timeout(1200)
def test_feedback_pages_hold_no_tests_and_no_solutions(graded):
    solution_lines = ["log_probs = shifted - np.log", "dhidden_pre = relu_backward(dhidden, cache_relu)"]
    for student in CASES:
        page = graded.course / "feedback" / student / cases.ASSIGNMENT / f"{cases.ASSIGNMENT}.html"
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text and "checks.report(" not in text
        assert "<script" not in text
        if student == "untouched":
            assert not any(line in text for line in solution_lines), student
    reference = (graded.course / "feedback" / "reference" / cases.ASSIGNMENT / "backprop.html").read_text()
    assert "16 / 16" in reference


@pytest.mark.timeout(1200)
def test_regrading_gives_the_same_grades_and_keeps_manual_ones(graded):
    from nbgrader.api import Gradebook

    db_url = f"sqlite:///{graded.course / '.nbgrader' / 'gradebook.db'}"
    with Gradebook(db_url, "nn-from-the-neuron-up") as gradebook:
        cell_grade = gradebook.find_grade("two_layer_net", "backprop", "backprop", "wrong-affine")
        cell_grade.manual_score = 3.5
        gradebook.db.commit()
    again = grade(graded.course, "--student", "reference", "--student", "wrong-affine", "--student", "os-exit")
    assert again.returncode == 0, again.stderr[-3000:]
    scores, review = read_reports(graded.course)
    rows, counts = gradebook_rows(graded.course)
    for student in ("reference", "os-exit"):
        assert scores[student] == graded.scores[student]
    assert float(scores["wrong-affine"]["two_layer_net"]) == 3.5
    assert rows["wrong-affine", "two_layer_net"] == (0.0, 3.5)
    assert ["wrong-affine", "manual-grade-kept"] in [line[:2] for line in review]
    unchanged = {key: value for key, value in rows.items() if key[0] != "wrong-affine"}
    assert unchanged == {key: value for key, value in graded.gradebook.items() if key[0] != "wrong-affine"}
    assert counts == graded.submission_counts


QUICK = ["reference", "wrong-affine", "mutates-inputs", "invalid-json", "edited-test-cell"]


@pytest.mark.timeout(1200)
def test_concurrent_graders_and_a_killed_one_lose_and_duplicate_nothing(tmp_path):
    course = make_course(tmp_path / "course")
    for case in cases.cases(course):
        if case.student in QUICK:
            case.build(course, case.student)
    command = [sys.executable, "-m", "grading", cases.ASSIGNMENT, "--course-dir", str(course), *FAST, "-q"]
    processes = [subprocess.Popen(command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE) for _ in range(3)]
    time.sleep(8)
    os.killpg(processes[0].pid, signal.SIGKILL)
    processes[0].wait()
    for process in processes[1:]:
        assert process.wait(timeout=900) == 0, process.stderr.read()[-3000:]
    restarted = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    rows, counts = gradebook_rows(course)
    assert counts == {student: 1 for student in QUICK}
    for student in QUICK:
        for grade_id in GRADE_IDS:
            auto, manual = rows[student, grade_id]
            assert auto == pytest.approx(CASES[student].expected[grade_id], abs=1e-3) and manual is None
    assert len(rows) == len(QUICK) * len(GRADE_IDS)


@pytest.mark.timeout(600)
def test_dropout_that_reseeds_numpy_is_graded_like_the_reference(tmp_path):
    course = make_course(tmp_path / "course", "dropout")
    for case in cases.dropout_cases():
        case.build(course, case.student)
    process = grade(course, assignment="dropout")
    assert process.returncode == 0, process.stderr[-3000:]
    scores, review = read_reports(course, "dropout")
    for case in cases.dropout_cases():
        for grade_id, points in case.expected.items():
            assert float(scores[case.student][grade_id]) == points, (case.student, grade_id)
    assert review == []


@pytest.mark.timeout(600)
def test_no_sandbox_mode_is_flagged_on_every_line(tmp_path):
    course = make_course(tmp_path / "course")
    CASES["reference"].build(course, "reference")
    process = grade(course, "--no-sandbox")
    assert process.returncode == 0, process.stderr[-3000:]
    scores, review = read_reports(course)
    assert float(scores["reference"]["total"]) == MAX_TOTAL
    assert ["reference", "no-sandbox"] in [line[:2] for line in review]


def test_usage_errors_exit_with_status_2(tmp_path):
    process = grade(tmp_path, timeout=300)
    assert process.returncode == 2 and "nbgrader_config.py" in process.stderr
    course = make_course(tmp_path / "course")
    process = grade(course, timeout=300)  # no submitted/ folder: nothing to grade, but no error
    assert process.returncode == 0, process.stderr[-2000:]
    process = subprocess.run([sys.executable, "-m", "grading", "no-such-assignment", "--course-dir", str(course)],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert process.returncode == 2 and "no source notebook" in process.stderr


def _read_frame(data):
    from grading import protocol

    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    try:
        return protocol.Reader(read_fd).read()
    finally:
        os.close(read_fd)


def test_the_protocol_never_unpickles_what_a_worker_sends():
    import io
    import struct

    import numpy as np

    from grading import protocol

    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    blob = buffer.getvalue()
    header = json.dumps({"ok": True, "value": {"a": 0}, "arrays": 1}).encode()
    frame = struct.pack(">Q", len(header)) + header + struct.pack(">Q", len(blob)) + blob
    with pytest.raises(protocol.ProtocolError):
        _read_frame(frame)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"x": 1}, [])
    with pytest.raises(TypeError):
        protocol.encode(object(), [])


def test_the_protocol_carries_arrays_containers_generators_and_handles():
    import numpy as np

    from grading import protocol

    rng = np.random.default_rng(7)
    value = ({"W": np.arange(6.0).reshape(2, 3), "n": 3, "name": "x"}, [1.5, None, True], rng,
             protocol.Handle(4))
    arrays = []
    header, received = _read_frame(protocol.frame({"v": protocol.encode(value, arrays)}, arrays))
    params, items, generator, handle = protocol.decode(header["v"], received)
    assert np.array_equal(params["W"], value[0]["W"]) and params["W"].dtype == np.float64
    assert params["n"] == 3 and params["name"] == "x" and items == [1.5, None, True]
    assert generator.random() == np.random.default_rng(7).random()
    assert isinstance(handle, protocol.Handle) and handle.number == 4
