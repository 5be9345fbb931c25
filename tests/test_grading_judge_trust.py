"""The judge's trust boundary (issue 11 items 1-4), through ``python -m grading backprop``.

One module-scoped class holds the reference submission and every case of
``cases.trust_cases()``: messages forged onto the judge's channel, a header nested past
the protocol's bounds, guarded and unguarded functions that use nnlib, a pasted copy of
an nnlib function, nnlib run with the worker's tripwire sidestepped, and an honest
notebook with slow exploration cells. The class is graded once as an instructor would;
the tests then check scores, report lines, the course secret and what reaches the
feedback pages. Unit tests of the protocol's bounds, the source scan and the secret
follow.
"""
import json
import os
import stat
import struct

import numpy as np
import pytest

from adversarial import cases
from test_grading_pipeline import GRADE_IDS, MAX_TOTAL, grade, make_course, read_reports

TRUST = {case.student: case for case in cases.trust_cases()}


class Graded:
    def __init__(self, course, process):
        self.course, self.process = course, process
        self.scores, self.review = read_reports(course)
        folder = course / ".nbgrader" / "reports" / cases.ASSIGNMENT
        self.results = json.loads((folder / "results.json").read_text())

    def flags(self, student):
        return {line[1] for line in self.review if line[0] == student}

    def lines(self, student, kind):
        return [line[2] for line in self.review if line[0] == student and line[1] == kind]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("trust") / "course")
    for case in TRUST.values():
        case.build(course, case.student)
    return Graded(course, grade(course))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_class_is_graded_with_exit_status_0(graded):
    assert graded.process.returncode == 0, graded.process.stderr[-3000:]
    assert set(graded.scores) == set(TRUST)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("student", sorted(TRUST))
def test_each_submission_gets_its_expected_scores_and_report_lines(graded, student):
    case = TRUST[student]
    row = graded.scores[student]
    for grade_id in GRADE_IDS:
        assert float(row[grade_id]) == pytest.approx(case.expected[grade_id], abs=1e-3), (grade_id, row)
    assert float(row["max_total"]) == MAX_TOTAL
    flags = graded.flags(student)
    assert case.flags <= flags, f"missing report lines {case.flags - flags}"
    assert not (case.forbidden & flags), f"unexpected report lines {case.forbidden & flags}"


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_honest_submissions_lose_no_point_and_raise_no_flag(graded):
    for student in ("reference", "slow-exploration-cells"):
        assert float(graded.scores[student]["total"]) == MAX_TOTAL
        assert graded.flags(student) == set(), graded.lines(student, "timeout")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_forged_message_is_named_tampering_in_the_part_it_hit(graded):
    # The worker's own reply follows the forged one: it is either waiting when the judge makes
    # its next request or arrives as the answer to it (timing decides which; both are tampering).
    lines = graded.lines("forges-call-reply", "tampering")
    assert any(line.startswith("affine_forward: ") and ("did not ask for" in line or "answers no request" in line)
               for line in lines), lines
    lines = graded.lines("forges-init-reply", "tampering")
    assert any("answers no request of the judge" in line for line in lines), lines
    assert any("nested deeper than" in line for line in graded.lines("deep-header", "tampering"))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_nnlib_use_is_flagged_with_evidence_from_the_source_and_the_worker(graded):
    imports = graded.lines("forwards-use-nnlib", "nnlib-import")
    assert any(line.startswith("affine_forward: ") and "nnlib.layers.Dense" in line for line in imports), imports
    called = graded.lines("backwards-use-nnlib", "nnlib-called")
    assert any(line.startswith("affine_backward: ") and "Dense" in line for line in called), called
    # A pasted copy is correct, so it keeps its point: a human decides, with the evidence.
    copies = graded.lines("pasted-nnlib-copy", "nnlib-copy")
    assert copies == ["relative_error: relative_error is a copy of nnlib.gradcheck.relative_error with names "
                      "changed (answer_gradient_check, line 14)"], copies
    # The worker saw nothing (the tripwire was sidestepped); the source shows the computed import.
    assert any("import_module()" in line for line in graded.lines("evades-tripwire", "dynamic-code"))


# --------------------------------------------------------------------------- the secret

def _secret_hex(course):
    return (course / ".nbgrader" / "grading-secret").read_text().strip()


def _hidden_seed_values(course):
    """Every hidden seed value of the backprop parts under this course's secret, as text."""
    from grading import secret
    from grading.checks import backprop

    inputs = secret.hidden_inputs(course, cases.ASSIGNMENT)
    return {str(int(seed)) for part in backprop.PARTS
            for seed in inputs.for_part(part.grade_id).seeds(backprop.HIDDEN_COUNT)}


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_secret_is_created_private_and_never_released(graded):
    path = graded.course / ".nbgrader" / "grading-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = _secret_hex(graded.course)
    assert len(key) == 64 and int(key, 16) >= 0
    seeds = _hidden_seed_values(graded.course)
    released = [p for p in graded.course.rglob("*") if p.is_file() and p != path and ".nbgrader" not in p.parts]
    released += [p for p in (graded.course / ".nbgrader" / "reports").rglob("*") if p.is_file()]
    assert any(p.parts[-4] == "feedback" for p in released if len(p.parts) > 4)
    for page in released:
        text = page.read_bytes().decode("utf-8", errors="replace")
        assert key not in text, page
        if page.suffix == ".html" or page.name in ("results.json", "needs-review.txt"):
            assert not [seed for seed in seeds if seed in text], page


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_regrade_with_the_same_secret_gives_the_same_grades(graded):
    students = ["reference", "pasted-nnlib-copy", "backwards-use-nnlib"]
    key = _secret_hex(graded.course)
    args = [arg for student in students for arg in ("--student", student)]
    again = grade(graded.course, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    scores, _ = read_reports(graded.course)
    assert _secret_hex(graded.course) == key
    for student in students:
        assert scores[student] == graded.scores[student]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_secret_others_can_read_stops_the_grader(tmp_path):
    course = make_course(tmp_path / "course")
    path = course / ".nbgrader" / "grading-secret"
    path.parent.mkdir(parents=True)
    path.write_text("ab" * 32 + "\n")
    path.chmod(0o644)
    process = grade(course, timeout=300)
    assert process.returncode == 2 and "expected 0600" in process.stderr, process.stderr[-2000:]


def _recorded_inputs(hidden):
    """The arrays every hidden case of affine_forward passes to the student's function."""
    from grading.checks import backprop

    seen = []

    def affine_forward(x, W, b):
        seen.append(np.concatenate([x.ravel(), W.ravel(), b.ravel()]))
        return x @ W + b, (x, W)

    result = backprop.check_affine_forward.check({"affine_forward": affine_forward}, hidden)
    assert result.fraction == 1.0
    return seen


def test_two_secrets_give_different_hidden_inputs_and_one_secret_the_same(tmp_path):
    from grading import secret
    from grading.checks import base

    first, second = tmp_path / "first", tmp_path / "second"
    one = _recorded_inputs(secret.hidden_inputs(first, cases.ASSIGNMENT))
    again = _recorded_inputs(secret.hidden_inputs(first, cases.ASSIGNMENT))
    other = _recorded_inputs(secret.hidden_inputs(second, cases.ASSIGNMENT))
    assert len(one) == len(other) == 6
    assert all(np.array_equal(a, b) for a, b in zip(one, again))
    assert not any(np.array_equal(a, b) for a in one for b in other)
    # The committed visible seed and the public development key are neither.
    visible = _recorded_inputs(False)
    development = _recorded_inputs(base.DEVELOPMENT_INPUTS)
    assert not any(np.array_equal(a, b) for a in one for b in visible + development)
    assert stat.S_IMODE(secret.secret_path(first).stat().st_mode) == 0o600


def test_hidden_seeds_keep_their_positions_modulo_6_and_print_no_value():
    from grading.checks import base

    seeds = base.HiddenInputs(b"k" * 32, "x").seeds(7)
    assert [seed % 6 for seed in seeds] == [0, 1, 2, 3, 4, 5, 0]
    assert all(0 <= seed < 2**31 for seed in seeds)
    assert f"seed {seeds[1]}" == "seed hidden-2" and str(int(seeds[1])) not in repr(seeds)
    with pytest.raises(ValueError, match="key must be at least 16 bytes"):
        base.HiddenInputs(b"short")


def test_a_failed_hidden_case_is_named_by_position_not_by_seed():
    from grading.checks import backprop, base

    inputs = base.HiddenInputs(b"k" * 32, cases.ASSIGNMENT)
    result = backprop.check_affine_forward.check({"affine_forward": lambda x, W, b: (x @ W, (x, W))}, inputs)
    seeds = inputs.for_part("affine_forward").seeds(backprop.HIDDEN_COUNT)
    text = " ".join(result.messages)
    assert result.fraction == 0.0 and "seed hidden-1" in text, text
    assert not any(str(int(seed)) in text for seed in seeds)


def test_a_malformed_secret_is_refused_with_what_was_found(tmp_path):
    from grading import secret

    path = secret.secret_path(tmp_path)
    path.parent.mkdir()
    path.write_text("not hex")
    path.chmod(0o600)
    with pytest.raises(secret.SecretError, match="at least 32 hexadecimal digits.*got 7 characters"):
        secret.load_or_create(tmp_path)


# --------------------------------------------------------------------------- protocol bounds

def _reader_on(data):
    from grading import protocol

    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    return protocol.Reader(read_fd), read_fd


@pytest.mark.parametrize("payload, message", [
    (struct.pack(">Q", 2**40), "header of 1099511627776 bytes exceeds"),
    (struct.pack(">Q", 4000) + b"[" * 2000 + b"]" * 2000, "nested deeper than"),
    (struct.pack(">Q", 9) + b"not json!", "malformed header"),
])
def test_the_judge_bounds_every_message_before_parsing_it(payload, message):
    from grading import protocol

    reader, fd = _reader_on(payload)
    try:
        with pytest.raises(protocol.ProtocolError, match=message):
            reader.read()
    finally:
        os.close(fd)


def test_json_depth_skips_brackets_inside_strings():
    from grading import protocol

    assert protocol.json_depth(json.dumps({"a": "[" * 500, "b": [[1]]}).encode()) <= 3
    assert protocol.json_depth(json.dumps({"a": "\\\"" + "[" * 500}).encode()) <= 1
    assert protocol.json_depth(b"[" * 300 + b"]" * 300) == 300


def test_replies_are_accepted_only_for_the_request_made():
    from grading import protocol

    good = {"ok": True, "re": "abc", "output_chars": 0, "value": 1.0, "post": None}
    protocol.check_reply("call", "abc", good)
    for header, words in [(dict(good, re="other"), "answers no request"), (dict(good, re=None), "answers no request"),
                          ({k: v for k, v in good.items() if k != "value"}, "without its value"),
                          (dict(good, ok=False, kind="made-up"), "unknown kind"),
                          (dict(good, nnlib="x"), "nnlib report")]:
        with pytest.raises(protocol.UnexpectedMessage, match=words):
            protocol.check_reply("call", "abc", header)
    with pytest.raises(protocol.UnexpectedMessage, match="for cell 3, expected 2"):
        protocol.check_reply("notebook", "n", {"re": "n", "output_chars": 0, "ok": True, "cell": 3}, cell=2)
    with pytest.raises(protocol.UnexpectedMessage, match="malformed reply to init"):
        protocol.check_reply("init", "i", {"re": "i", "output_chars": 0, "ok": True, "cells": [], "defined": [1]})
    with pytest.raises(ValueError, match="op must be one of"):
        protocol.request("shutdown", "x")


# --------------------------------------------------------------------------- source scan

def _scan(*cells):
    from grading import source_scan

    return source_scan.Scan([(f"cell {i}", cell) for i, cell in enumerate(cells, 1)])


def test_the_instructors_solution_raises_no_evidence():
    from grading.checks import backprop

    answers = cases.solution_answers()
    scan = _scan(*answers.values())
    guarded = {name for part in backprop.PARTS for name in part.guarded}
    assert scan.evidence(sorted(guarded)) == [] and scan.cell_evidence() == []


def test_the_scan_finds_nnlib_through_aliases_helpers_and_local_imports():
    scan = _scan("import nnlib.layers as L\nhelper_layer = L.Dense\n",
                 "def _helper(x):\n    return helper_layer(3, 2, None).forward(x)\n",
                 "def affine_forward(x, W, b):\n    return _helper(x), (x, W)\n",
                 "def relu_forward(x):\n    from nnlib.activations import relu\n    return relu(x), x\n",
                 "def relu_backward(dout, L):\n    return dout * (L > 0)\n")
    details = [item.detail for item in scan.evidence(["affine_forward", "relu_forward", "relu_backward"])]
    assert any("helper_layer" in d and "through _helper" in d for d in details), details
    assert any(d.startswith("relu_forward imports nnlib.activations.relu") for d in details), details
    # A parameter that shares an nnlib alias's name is the function's own.
    assert not any(d.startswith("relu_backward") for d in details), details


def test_the_scan_flags_built_code_computed_imports_and_course_paths():
    scan = _scan("exec('def relu_forward(x):\\n    return x, x')\n",
                 "code = 'x = 1'\nexec(code)\n",
                 "mod = __import__('nn' + 'lib')\n",
                 "text = open('../../solutions/backprop/backprop.ipynb').read()\n",
                 "affine_forward = lambda x, W, b: (x @ W + b, (x, W))\n",
                 "import re\nstacked = np.stack([np.ones(2)])\npattern = re.compile(r'a+')\n"
                 "value = getattr(np, 'maximum')\n")
    kinds = {(item.kind, item.detail.split(" (")[0]) for item in scan.cell_evidence()}
    assert ("dynamic-code", "exec() of a computed value") in kinds
    assert ("dynamic-code", "__import__() of a computed value") in kinds
    assert ("reads-course-files", "open() of a path naming the course's folders") in kinds
    # Literal code, literal attribute names and np.stack are ordinary Python: no evidence.
    assert not any("(cell 1" in item.detail or "(cell 6" in item.detail for item in scan.cell_evidence())
    details = [item.detail for item in scan.evidence(["relu_forward", "affine_forward"])]
    assert any(d.startswith("relu_forward is not defined by a def") for d in details), details
    assert any(d.startswith("affine_forward is bound by an assignment") for d in details), details
