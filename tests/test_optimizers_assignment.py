"""Assignment 7, ``optimizers``: momentum, RMSProp and Adam steps, graded against nnlib.optim.

- each common mistake (sign convention, Nesterov's step, eps inside the root, the old mean square,
  no or mis-timed bias correction, a step count not kept, inputs changed in place, nnlib
  called) loses exactly its function's test cell under the hidden tests, is caught by the
  visible self-check as well, and the message names the likely cause;
- correct code written differently gets full marks, and the checks' reference is nnlib's
  optimizers run for several steps;
- through the real command, ``python -m grading optimizers``, the solution scores full
  marks, the released exercise 0 with one "not implemented yet" line per function, and
  each mistake costs points in its own function only (the share of hidden cases it fails);
  ``python -m grading check`` says the same.
"""
import json
import textwrap

import numpy as np
import pytest

import test_assignments
from adversarial import cases
from grading import secret
from grading.checks import load
from test_grading_pipeline import grade, make_course
from test_selfcheck import check_command

ASSIGNMENT = "optimizers"
ANSWERS = {"sgd_momentum_step": "answer_sgd_momentum_step", "rmsprop_step": "answer_rmsprop_step",
           "adam_step": "answer_adam_step"}

# name -> (function, words of the message that names it, the wrong code): either edits
# [(old, new), ...] of the solution's own answer, so the mistake is all a test states, or,
# where the mistake changes the code's shape, a whole source.
MISTAKES = {
    "momentum-sign": ("sgd_momentum_step", "the velocity has the other sign", [
        ('momentum * state["velocity"] - lr * grad', 'momentum * state["velocity"] + lr * grad'),
        ('param + momentum * velocity - lr * grad', 'param - momentum * velocity - lr * grad'),
        ('new_param = param + velocity', 'new_param = param - velocity')]),
    "nesterov-ignored": ("sgd_momentum_step", "the Nesterov step is missing", """
        def sgd_momentum_step(param, grad, state, hyperparameters):
            velocity = hyperparameters["momentum"] * state["velocity"] - hyperparameters["lr"] * grad
            return param + velocity, {"velocity": velocity}
        """),
    "nesterov-without-gradient-term": ("sgd_momentum_step", "leaves out the gradient term", [
        ('param + momentum * velocity - lr * grad', 'param + momentum * velocity')]),
    "velocity-in-place": ("sgd_momentum_step", "changed state['velocity'] in place", """
        def sgd_momentum_step(param, grad, state, hyperparameters):
            lr, momentum = hyperparameters["lr"], hyperparameters["momentum"]
            velocity = state["velocity"]
            velocity *= momentum
            velocity -= lr * grad
            if hyperparameters["nesterov"]:
                return param + momentum * velocity - lr * grad, state
            return param + velocity, state
        """),
    "param-in-place": ("sgd_momentum_step", "changed its input param in place", """
        def sgd_momentum_step(param, grad, state, hyperparameters):
            lr, momentum = hyperparameters["lr"], hyperparameters["momentum"]
            velocity = momentum * state["velocity"] - lr * grad
            param += momentum * velocity - lr * grad if hyperparameters["nesterov"] else velocity
            return param, {"velocity": velocity}
        """),
    "rmsprop-eps-inside": ("rmsprop_step", "eps is inside the square root", [
        ('(np.sqrt(mean_square) + eps)', 'np.sqrt(mean_square + eps)')]),
    "rmsprop-old-mean-square": ("rmsprop_step", "divides by the old mean square", [
        ('(np.sqrt(mean_square) + eps)', '(np.sqrt(state["mean_square"]) + eps)')]),
    "rmsprop-no-one-minus-rho": ("rmsprop_step", "the (1 - rho) factor is missing", [
        ('(1 - rho) * grad**2', 'grad**2')]),
    "adam-no-bias-correction": ("adam_step", "the bias correction is missing", [
        ('m / (1 - beta1**t), v / (1 - beta2**t)', 'm, v')]),
    "adam-old-t": ("adam_step", "increment t first", [
        ('t = state["t"] + 1', 't = state["t"]'),
        ('"t": t}', '"t": t + 1}')]),
    "adam-t-plus-two": ("adam_step", "the bias correction uses t + 1", [
        ('m / (1 - beta1**t), v / (1 - beta2**t)', 'm / (1 - beta1**(t + 1)), v / (1 - beta2**(t + 1))')]),
    "adam-t-not-counted": ("adam_step", "new_state['t'] is wrong", [
        ('"t": t}', '"t": state["t"]}')]),
    "adam-corrected-moments-stored": ("adam_step", "is the bias-corrected m_hat", [
        ('{"m": m, "v"', '{"m": m_hat, "v"')]),
    "adam-eps-inside": ("adam_step", "eps is inside the square root", [
        ('(np.sqrt(v_hat) + eps)', 'np.sqrt(v_hat + eps)')]),
    "adam-state-in-place": ("adam_step", "in place", """
        def adam_step(param, grad, state, hyperparameters):
            lr, eps = hyperparameters["lr"], hyperparameters["eps"]
            beta1, beta2 = hyperparameters["beta1"], hyperparameters["beta2"]
            state["t"] += 1
            state["m"] = beta1 * state["m"] + (1 - beta1) * grad
            state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
            m_hat, v_hat = state["m"] / (1 - beta1**state["t"]), state["v"] / (1 - beta2**state["t"])
            return param - lr * m_hat / (np.sqrt(v_hat) + eps), state
        """),
    "adam-calls-nnlib": ("adam_step", "called nnlib.optim.Adam", """
        import nnlib

        def adam_step(param, grad, state, hyperparameters):
            optimizer = nnlib.optim.Adam(**hyperparameters)
            new_param = param.copy()
            optimizer.step([(new_param, grad)])
            kept = optimizer.state_of(new_param)
            return new_param, {"m": kept["m"], "v": kept["v"], "t": kept["t"]}
        """),
}


@pytest.fixture(scope="module")
def solution():
    return test_assignments.solution_namespace(ASSIGNMENT)


def mistake_source(bug):
    name, _, wrong = MISTAKES[bug]
    if isinstance(wrong, str):
        return textwrap.dedent(wrong).strip() + "\n"
    source = cases.solution_answers(ASSIGNMENT)[ANSWERS[name]]
    for old, new in wrong:
        assert source.count(old) == 1, f"{bug}: {old!r} is not once in the solution's {name}"
        source = source.replace(old, new)
    return source


def with_mistake(solution, bug):
    name = MISTAKES[bug][0]
    return {**solution, name: test_assignments.define(mistake_source(bug), solution)[name]}


@pytest.mark.parametrize("bug", sorted(MISTAKES))
def test_a_common_mistake_loses_exactly_its_functions_points_and_is_named(solution, bug):
    name, cause = MISTAKES[bug][:2]
    functions = with_mistake(solution, bug)
    hidden = test_assignments.scores(ASSIGNMENT, functions)
    visible = test_assignments.scores(ASSIGNMENT, functions, hidden=False)
    for results, kind in ((hidden, "hidden tests"), (visible, "self-check")):
        assert results[name].fraction < 1, f"{bug}: the {kind} did not catch it"
        assert any(cause in message for message in results[name].messages), (kind, results[name].messages)
        assert all(result.fraction == 1 for part, result in results.items() if part != name), {
            part: result.messages for part, result in results.items() if result.fraction < 1}
    parts = load(ASSIGNMENT).PARTS_BY_ID
    full = sum(part.points for part in load(ASSIGNMENT).PARTS)
    assert test_assignments.nbgrader_points(ASSIGNMENT, hidden) == full - parts[name].points


DIFFERENT_BUT_RIGHT = """
    def sgd_momentum_step(param, grad, state, hyperparameters):
        h = hyperparameters
        velocity = state["velocity"].copy()
        velocity *= h["momentum"]
        velocity -= h["lr"] * grad
        # Nesterov as the heavy-ball step plus momentum times the change of velocity (the same step)
        if h["nesterov"]:
            return param + velocity + h["momentum"] * (velocity - state["velocity"]), {"velocity": velocity}
        look_ahead = param + velocity
        return look_ahead, {"velocity": velocity}

    def rmsprop_step(param, grad, state, hyperparameters):
        flat = [(p, g, s) for p, g, s in zip(param.ravel(), grad.ravel(), state["mean_square"].ravel())]
        rho, lr, eps = hyperparameters["rho"], hyperparameters["lr"], hyperparameters["eps"]
        new_s = np.array([rho * s + (1 - rho) * g * g for _, g, s in flat])
        new_p = np.array([p - lr * g / (s ** 0.5 + eps) for (p, g, _), s in zip(flat, new_s)])
        return new_p.reshape(param.shape), {"mean_square": new_s.reshape(param.shape)}

    def adam_step(param, grad, state, hyperparameters):
        b1, b2 = hyperparameters["beta1"], hyperparameters["beta2"]
        t = int(state["t"]) + 1
        m = state["m"] + (1 - b1) * (grad - state["m"])
        v = state["v"] + (1 - b2) * (np.square(grad) - state["v"])
        step_size = hyperparameters["lr"] * np.sqrt(1 - b2**t) / (1 - b1**t)
        eps_hat = hyperparameters["eps"] * np.sqrt(1 - b2**t)
        return param - step_size * m / (np.sqrt(v) + eps_hat), dict(t=t, v=v, m=m)
"""


def test_correct_updates_written_differently_get_full_marks():
    functions = test_assignments.define(DIFFERENT_BUT_RIGHT, {"np": np})
    results = test_assignments.scores(ASSIGNMENT, functions)
    assert {part: r.fraction for part, r in results.items()} == {part: 1.0 for part in results}, {
        part: r.messages for part, r in results.items() if r.fraction < 1}


def test_the_solution_matches_nnlibs_optimizers_over_a_run(solution):
    import nnlib

    rng = np.random.default_rng(7)
    settings = [("sgd_momentum_step", nnlib.Momentum, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
                ("rmsprop_step", nnlib.RMSProp, {"lr": 0.01, "rho": 0.9, "eps": 1e-8}),
                ("adam_step", nnlib.Adam, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})]
    for name, optimizer_class, hyperparameters in settings:
        theirs = rng.standard_normal((4, 3))
        ours = theirs.copy()
        optimizer = optimizer_class(**hyperparameters)
        state = load(ASSIGNMENT).fresh_state(name, ours)
        for _ in range(20):
            grad = rng.standard_normal(ours.shape)
            ours, state = solution[name](ours, grad, state, hyperparameters)
            optimizer.step([(theirs, grad)])
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14, err_msg=name)


def test_hidden_cases_differ_in_data_not_in_kind():
    from grading.checks import base

    part = load(ASSIGNMENT).PARTS_BY_ID["adam_step"]

    def kinds(hidden):
        cases = part.check.__wrapped__(base.Calls({}, ()), base.hidden_inputs(hidden, "adam_step"))
        return [label for label, _ in cases]

    visible, hidden = kinds(False), kinds(base.HiddenInputs(b"another course secret, 32 bytes"))
    strip = lambda label: label.split(", ", 1)[1]  # noqa: E731 (drop the seed)
    assert sorted(set(map(strip, visible))) == sorted(set(map(strip, hidden)))
    assert len(hidden) == 3 * len(visible)


# ------------------------------------------------------------------------ through the grader

PIPELINE = {"reference": {}, "untouched": None, "momentum-sign": "momentum-sign",
            "nesterov-ignored": "nesterov-ignored", "rmsprop-eps-inside": "rmsprop-eps-inside",
            "adam-old-t": "adam-old-t", "adam-state-in-place": "adam-state-in-place",
            "adam-calls-nnlib": "adam-calls-nnlib"}


def submission(student):
    if student == "untouched":
        return cases.release_notebook(ASSIGNMENT)
    bug = PIPELINE[student]
    replace = {}
    if bug:
        replace[ANSWERS[MISTAKES[bug][0]]] = mistake_source(bug)
    return cases.answered(replace, assignment=ASSIGNMENT)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_grader_gives_full_marks_zero_for_the_stub_and_loses_only_the_mistaken_function(tmp_path):
    course = make_course(tmp_path / "course", ASSIGNMENT)
    for student in PIPELINE:
        cases.submit(submission(student), assignment=ASSIGNMENT)(course, student)
    process = grade(course, assignment=ASSIGNMENT)
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((course / ".nbgrader" / "reports" / ASSIGNMENT / "results.json").read_text())
    points = {part.grade_id: part.points for part in load(ASSIGNMENT).PARTS}
    review = (course / ".nbgrader" / "reports" / ASSIGNMENT / "needs-review.txt").read_text()

    def parts_of(student):
        return results[student]["parts"]

    assert {grade_id: part["score"] for grade_id, part in parts_of("reference").items()} == points
    for grade_id, part in parts_of("untouched").items():
        assert part["score"] == 0
        assert part["messages"] == [f"{grade_id} is not implemented yet: it raised NotImplementedError"]
    # The judge's verdict is the check's own on the course's hidden inputs: a mistake keeps the
    # share of cases it passes (partial credit within a function), below that function's points.
    hidden = secret.hidden_inputs(course, ASSIGNMENT)
    solution = test_assignments.solution_namespace(ASSIGNMENT)
    for student, bug in PIPELINE.items():
        if not bug:
            continue
        name, cause, _ = MISTAKES[bug]
        fraction = load(ASSIGNMENT).PARTS_BY_ID[name].check(with_mistake(solution, bug), hidden).fraction
        assert fraction < 1, (student, fraction)
        expected = dict(points, **{name: pytest.approx(points[name] * fraction, abs=1e-3)})
        assert {grade_id: part["score"] for grade_id, part in parts_of(student).items()} == expected, student
        assert any(cause in message for message in parts_of(student)[name]["messages"]), parts_of(student)[name]
    assert "adam-calls-nnlib\tnnlib-called" in review or "adam-calls-nnlib\tnnlib-import" in review
    assert "\nreference\t" not in "\n" + review


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_grading_check_passes_the_solution_and_names_each_stub(tmp_path):
    (tmp_path / "done").mkdir()
    (tmp_path / "new").mkdir()
    done_path, new_path = tmp_path / "done" / "optimizers.ipynb", tmp_path / "new" / "optimizers.ipynb"
    done_path.write_text(json.dumps(submission("reference")))
    new_path.write_text(json.dumps(submission("untouched")))
    done, new = check_command(done_path), check_command(new_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "3 of 3 self-checks passed; the hidden tests decide the grade."
    assert new.returncode == 1, new.stdout + new.stderr
    assert new.stdout.splitlines()[:3] == [
        f"{name}: {name} is not implemented yet: it raised NotImplementedError  [{points:g} points]"
        for name, points in (("sgd_momentum_step", 3), ("rmsprop_step", 2), ("adam_step", 4))]
