"""The graded assignments: instructor notebooks, generated exercises and their checks.

- ``exercises/`` is exactly what ``nbgrader generate_assignment`` makes from ``solutions/``
  today, and no solution or hidden test reaches it or the built website;
- every solution notebook runs cleanly, every test cell passing its visible and hidden
  checks; every generated exercise runs with NotImplementedError in its answer-dependent
  cells only;
- the backprop checks take exactly one part's points from each classic mistake, with the
  likely cause in the message, and full marks for correct code written differently.
"""
import concurrent.futures
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("neuron", "activations", "losses", "backprop", "dropout", "architecture", "optimizers")
sys.path.insert(0, str(ROOT))

from grading.checks import base, load  # noqa: E402 (needs the repository root on sys.path)

pytestmark = pytest.mark.slow


def notebook_path(folder, assignment):
    return folder / assignment / f"{assignment}.ipynb"


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def regions(source, begin, end):
    """Lines strictly between the ``begin`` and ``end`` marker lines of a cell."""
    inside, found = False, []
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            found.append(line.strip())
    return found


# ------------------------------------------------------------------------ regeneration


def generate(course):
    """Run nbgrader generate_assignment for every assignment in ``course``; returns exercises/."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    api = NbGraderAPI(config=config)
    with pytest.MonkeyPatch.context() as patch:
        # nbgrader creates its gradebook by running `alembic` by name.
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        for assignment in ASSIGNMENTS:
            result = api.generate_assignment(assignment, force=True)
            assert result["success"], f"nbgrader generate_assignment {assignment} failed:\n{result['error']}"
    return course / "exercises"


@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    """Fresh exercises from nbgrader in a temporary course, and every solution and exercise
    notebook executed; the notebooks run (four kernels at a time) while nbgrader generates."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    paths = {(kind, a): notebook_path(ROOT / kind, a) for kind in ("solutions", "exercises") for a in ASSIGNMENTS}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(execute, path) for key, path in paths.items()}
        exercises = generate(course)
        executed = {key: future.result() for key, future in futures.items()}
    return exercises, executed


@pytest.fixture(scope="module")
def generated(course_run):
    return course_run[0]


@pytest.fixture(scope="module")
def executed(course_run):
    return course_run[1]


def comparable(notebook):
    """A notebook's cells without volatile fields (cell ids), plus its kernelspec."""
    cells = [{"cell_type": cell.cell_type, "source": cell.source, "metadata": dict(cell.metadata),
              "outputs": cell.get("outputs", [])} for cell in notebook.cells]
    return {"kernelspec": notebook.metadata.get("kernelspec"), "cells": cells}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_exercise_is_what_nbgrader_generates(generated, assignment):
    fresh, committed = generated / assignment, ROOT / "exercises" / assignment
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in committed.iterdir()), (
        f"exercises/{assignment} holds other files than nbgrader generates")
    assert comparable(read(notebook_path(generated, assignment))) == comparable(
        read(notebook_path(ROOT / "exercises", assignment))), (
        f"exercises/{assignment} is stale: regenerate it from solutions/{assignment} (see README)")


def secret_lines(assignment):
    """Hidden-test lines, and solution lines that appear nowhere else in the notebook."""
    notebook = read(notebook_path(ROOT / "solutions", assignment))
    hidden, solution, public = set(), set(), set()
    for cell in notebook.cells:
        hidden.update(regions(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
        inside = regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        solution.update(inside)
        public.update(line.strip() for line in cell.source.splitlines() if line.strip() not in inside)
    return {line for line in hidden if line}, {line for line in solution - public if len(line) > 8}


MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden=True")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_or_hidden_test_reaches_the_exercise(assignment):
    hidden, solution = secret_lines(assignment)
    assert hidden and solution, "the instructor notebook has no hidden tests or no solutions"
    text = "\n".join(cell.source for cell in read(notebook_path(ROOT / "exercises", assignment)).cells)
    lines = {line.strip() for line in text.splitlines()}
    assert not [marker for marker in MARKERS if marker in text]
    assert not hidden & lines, "hidden test code reached the exercise"
    assert not solution & lines, "solution code reached the exercise"


def test_no_solution_or_hidden_test_reaches_the_website():
    site = ROOT / "_build" / "html"
    if not site.is_dir():
        pytest.skip("no _build/html: run `make book` first")
    assert not (site / "solutions").exists() and not (site / "exercises").exists()
    hidden = set().union(*(secret_lines(assignment)[0] for assignment in ASSIGNMENTS))
    leaks = []
    for path in site.rglob("*"):
        if path.suffix in {".html", ".ipynb", ".txt", ".md", ".py", ".js", ".json"} and path.is_file():
            text = path.read_text(errors="replace")
            leaks += [f"{path}: {marker}" for marker in MARKERS[:4] if marker in text]
            leaks += [f"{path}: {line}" for line in hidden if line in text]
    assert not leaks, "\n".join(leaks[:20])


# ------------------------------------------------------------------------ execution


def execute(path):
    """Run a notebook in its folder with nbclient, keep going after errors; returns it."""
    from nbclient import NotebookClient

    notebook = read(path)
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def errors_of(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_cleanly_and_passes_every_check(executed, assignment):
    notebook = executed["solutions", assignment]
    graded = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        label = nbgrader_meta(cell).get("grade_id", cell.source[:40])
        assert not errors_of(cell), f"{label}: {errors_of(cell)[0].evalue}"
        stderr = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert not stderr, f"{label} wrote to stderr (nbgrader would fail the cell): {stderr}"
        if nbgrader_meta(cell).get("grade"):
            graded += 1
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert "self-check passed" in text and "hidden tests passed" in text, label
    assert graded == len(load(assignment).PARTS)


def student_functions(assignment):
    notebook = read(notebook_path(ROOT / "solutions", assignment))
    names = set()
    for cell in notebook.cells:
        if nbgrader_meta(cell).get("solution"):
            names.update(re.findall(r"^def (\w+)", cell.source, flags=re.M))
    return names


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercise_fails_cleanly_where_it_needs_the_learner(executed, assignment):
    notebook = executed["exercises", assignment]
    stubs = student_functions(assignment)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta, errors = nbgrader_meta(cell), errors_of(cell)
        label = meta.get("grade_id", cell.source[:40])
        # The stub's NotImplementedError, or the self-check's one-line NotImplementedStub (a subclass).
        assert all(error.ename in ("NotImplementedError", "NotImplementedStub") for error in errors), (
            f"{label}: {[error.ename + ': ' + error.evalue for error in errors]}")
        calls_stub = "checks.report" in cell.source or any(re.search(rf"\b{name}\b", cell.source) for name in stubs)
        if meta.get("grade"):
            assert errors, f"test cell {label} passes on the unanswered exercise"
        elif meta.get("solution") or not calls_stub:
            assert not errors, f"{label} fails although it does not need the learner's code"
        if meta.get("solution"):
            assert "raise NotImplementedError()" in cell.source


# ------------------------------------------------------------------------ the backprop checks


def solution_namespace(assignment):
    """The instructor's answers, executed like the notebook does (numpy as np)."""
    namespace = {"np": np}
    for cell in read(notebook_path(ROOT / "solutions", assignment)).cells:
        if nbgrader_meta(cell).get("solution"):
            exec(cell.source, namespace)  # noqa: S102 (the course's own solution code)
    return namespace


def define(source, namespace):
    """Compile ``source`` with access to ``namespace`` (without changing it); its new names."""
    scope = dict(namespace)
    exec(textwrap.dedent(source), scope)  # noqa: S102 (test fixtures below)
    return {name: value for name, value in scope.items() if namespace.get(name) is not value}


def scores(assignment, functions, hidden=True):
    """{grade_id: Result} for every part of ``assignment``."""
    return {part.grade_id: part.check(functions, hidden) for part in load(assignment).PARTS}


def nbgrader_points(assignment, results):
    """Points nbgrader gives: a test cell is all or nothing (``report`` raises unless 100%)."""
    return sum(part.points for part in load(assignment).PARTS if results[part.grade_id].fraction == 1)


BUGGY = {
    "transposed dW": ("affine_backward", "a transposed weight gradient", """
        def affine_backward(dout, cache):
            x, W = cache
            return dout @ W.T, (x.T @ dout).T, dout.sum(axis=0)
        """),
    "db over the wrong axis": ("affine_backward", "summed over the wrong axis", """
        def affine_backward(dout, cache):
            x, W = cache
            return dout @ W.T, x.T @ dout, dout.sum(axis=1)
        """),
    "missing 1/N": ("softmax_cross_entropy", "off by exactly N", """
        def softmax_cross_entropy(scores, y):
            n = scores.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            dscores = np.exp(log_probs)
            dscores[np.arange(n), y] -= 1
            return -log_probs[np.arange(n), y].mean(), dscores
        """),
    "missing ReLU mask": ("relu_backward", "the ReLU mask is missing", """
        def relu_backward(dout, cache):
            return dout.copy()
        """),
    "overflowing softmax": ("softmax_cross_entropy", "softmax overflows", """
        def softmax_cross_entropy(scores, y):
            n = scores.shape[0]
            probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
            dscores = probs.copy()
            dscores[np.arange(n), y] -= 1
            return -np.log(probs[np.arange(n), y]).mean(), dscores / n
        """),
    "log of an underflowed probability": ("softmax_cross_entropy", "log-sum-exp", """
        def softmax_cross_entropy(scores, y):
            n = scores.shape[0]
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs = exp / exp.sum(axis=1, keepdims=True)
            dscores = probs.copy()
            dscores[np.arange(n), y] -= 1
            return -np.log(probs[np.arange(n), y]).mean(), dscores / n
        """),
    "reg gradient left out": ("two_layer_net", "matches the reg=0 gradient", """
        def two_layer_net(X, params, y=None, reg=0.0):
            result = correct_two_layer_net(X, params, y, reg)
            if y is None:
                return result
            loss, grads = result
            return loss, {**grads, "W1": grads["W1"] - reg * params["W1"], "W2": grads["W2"] - reg * params["W2"]}
        """),
    "penalty without its 0.5": ("two_layer_net", "missing its 0.5", """
        def two_layer_net(X, params, y=None, reg=0.0):
            result = correct_two_layer_net(X, params, y, reg)
            if y is None:
                return result
            loss, grads = result
            return loss + 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)), grads
        """),
    "forward mutating its input": ("relu_forward", "changed its input x in place", """
        def relu_forward(x):
            np.maximum(x, 0.0, out=x)
            return x, x
        """),
    "delegation to nnlib": ("softmax_cross_entropy",
                            "graded functions must be your own code: softmax_cross_entropy called "
                            "nnlib.losses.softmax_cross_entropy", """
        from nnlib.losses import softmax_cross_entropy as library_version

        def softmax_cross_entropy(scores, y):
            return library_version(scores, y)
        """),
    "delegation to an nnlib layer": ("affine_forward", "called nnlib.layers.Dense", """
        import nnlib

        def affine_forward(x, W, b):
            layer = nnlib.Dense(W.shape[0], W.shape[1], np.random.default_rng(0))
            layer.params["W"][...] = W
            layer.params["b"][...] = b
            return layer.forward(x), (x, W)
        """),
}


@pytest.fixture(scope="module")
def backprop_solution():
    return solution_namespace("backprop")


@pytest.mark.parametrize("bug", sorted(BUGGY))
def test_a_classic_backprop_mistake_loses_exactly_its_parts_points(backprop_solution, bug):
    name, cause, source = BUGGY[bug]
    helpers = {"correct_two_layer_net": backprop_solution["two_layer_net"]}
    functions = {**backprop_solution, name: define(source, {**backprop_solution, **helpers})[name]}
    results = scores("backprop", functions)
    assert results[name].fraction < 1, f"{bug} was not caught"
    assert any(cause in message for message in results[name].messages), results[name].messages
    assert all(result.fraction == 1 for part, result in results.items() if part != name), {
        part: result.messages for part, result in results.items() if result.fraction < 1}
    parts = load("backprop").PARTS_BY_ID
    full = sum(part.points for part in load("backprop").PARTS)
    assert nbgrader_points("backprop", results) == full - parts[name].points


EQUIVALENT = """
    def affine_forward(x, W, b):
        out = np.zeros((x.shape[0], W.shape[1]))
        for n in range(x.shape[0]):
            for m in range(W.shape[1]):
                out[n, m] = sum(x[n, d] * W[d, m] for d in range(W.shape[0])) + b[m]
        return out, {"inputs": x.copy(), "weights": W.copy(), "bias": b.copy()}

    def affine_backward(dout, cache):
        x, W = cache["inputs"], cache["weights"]
        dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[1])
        for n in range(x.shape[0]):
            dx[n] = W @ dout[n]
            dW += np.outer(x[n], dout[n])
            db += dout[n]
        return dx, dW, db

    def relu_forward(x):
        mask = x > 0
        return x * mask, mask

    def relu_backward(dout, cache):
        return np.where(cache, dout, 0.0)

    def softmax_cross_entropy(scores, y):
        n = len(y)
        losses, dscores = [], np.empty_like(scores)
        for i in range(n):
            top = max(scores[i])
            log_total = top + np.log(np.sum(np.exp(scores[i] - top)))
            losses.append(log_total - scores[i, y[i]])
            dscores[i] = np.exp(scores[i] - log_total)
            dscores[i, y[i]] -= 1
        return sum(losses) / n, dscores / n

    def two_layer_net(X, params, y=None, reg=0.0):
        W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - np.max(scores, axis=1)[:, None]
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1))[:, None]
        onehot = np.eye(scores.shape[1])[y]
        loss = -np.sum(onehot * log_probs) / len(y) + reg / 2 * (np.vdot(W1, W1) + np.vdot(W2, W2))
        dscores = (np.exp(log_probs) - onehot) / len(y)
        dhidden = dscores.dot(W2.T) * (hidden > 0)
        return loss, {"W2": hidden.T.dot(dscores) + reg * W2, "b2": dscores.sum(0),
                      "W1": X.T.dot(dhidden) + reg * W1, "b1": dhidden.sum(0)}

    def relative_error(analytic, numeric):
        worst = 0.0
        for a, n in zip(np.ravel(analytic), np.ravel(numeric)):
            worst = max(worst, abs(a - n) / max(abs(a) + abs(n), 1e-12))
        return worst
"""


def test_correct_backprop_written_differently_gets_full_marks():
    functions = define(EQUIVALENT, {"np": np})
    results = scores("backprop", functions)
    assert {part: r.fraction for part, r in results.items()} == {part: 1.0 for part in results}, {
        part: r.messages for part, r in results.items() if r.fraction < 1}


def test_report_fails_the_test_cell_unless_every_case_passes(backprop_solution, capsys):
    part = load("backprop").PARTS_BY_ID["relu_backward"]
    base.report(part, backprop_solution, hidden=True)
    assert "relu_backward: hidden tests passed" in capsys.readouterr().out
    buggy = {**backprop_solution, **define(BUGGY["missing ReLU mask"][2], backprop_solution)}
    with pytest.raises(AssertionError, match="the ReLU mask is missing"):
        base.report(part, buggy, hidden=False)
    stub = {**backprop_solution, **define("def relu_forward(x):\n    raise NotImplementedError()", {})}
    with pytest.raises(NotImplementedError, match="relu_forward is not implemented yet"):
        base.report(part, stub)


def test_the_nnlib_tripwire_trips_captured_references_and_restores_nnlib():
    import nnlib
    from nnlib.losses import mse

    layer = nnlib.Dense(2, 3, np.random.default_rng(0))
    with base.nnlib_tripwire() as calls:
        for call in (lambda: mse(np.ones(2), np.zeros(2)), lambda: layer.forward(np.ones((1, 2))),
                     lambda: nnlib.mlp([1, 2, 1], rng=np.random.default_rng(0))):
            with pytest.raises(base.NnlibCalled):
                call()
    assert calls == ["losses.mse", "layers.Dense.forward", "model.mlp"]
    assert mse(np.ones(2), np.zeros(2))[0] == 1.0
    assert nnlib.mlp([3, 4, 2], rng=np.random.default_rng(0)).num_parameters() == 26


def test_catching_the_tripwire_does_not_save_a_delegating_answer(backprop_solution):
    functions = {**backprop_solution, **define("""
        import nnlib

        def relu_forward(x):
            try:
                return nnlib.activations.ReLU().value(x), x
            except Exception:
                return np.maximum(x, 0.0), x
        """, backprop_solution)}
    result = load("backprop").PARTS_BY_ID["relu_forward"].check(functions, True)
    assert result.fraction == 0
    assert result.messages == ["graded functions must be your own code: relu_forward called "
                               "nnlib.activations.ReLU.value"]


# ------------------------------------------------------------------------ the other checks


def test_dropout_grading_ignores_numpy_global_state():
    solution = solution_namespace("dropout")
    reseeding = {**solution, **define("""
        def dropout_forward(x, drop_prob, training, rng):
            np.random.seed(1234)
            return correct_forward(x, drop_prob, training, rng)
        """, {**solution, "correct_forward": solution["dropout_forward"]})}
    global_state = {**solution, **define("""
        def dropout_forward(x, drop_prob, training, rng):
            if not training:
                return x.copy(), None
            scale = (np.random.random(x.shape) >= drop_prob) / (1 - drop_prob)
            return x * scale, scale
        """, solution)}
    assert all(r.fraction == 1 for r in scores("dropout", reseeding).values())
    forward = load("dropout").PARTS_BY_ID["dropout_forward"].check(global_state, True)
    assert forward.fraction < 1
    assert any("draw the mask from the rng argument" in message for message in forward.messages)


@pytest.mark.parametrize("assignment, name, source, cause", [
    ("losses", "mse", "def mse(y_hat, y):\n    d = y_hat - y\n    return float(np.sum(d ** 2)), 2 * d",
     "a sum, not a mean"),
    ("losses", "bce_with_logits",
     "def bce_with_logits(z, y):\n    p = 1 / (1 + np.exp(-z))\n"
     "    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), (p - y) / len(z)",
     "overflows for large logits"),
    ("activations", "softplus", "def softplus(z):\n    return np.log(1 + np.exp(z))", "np.logaddexp"),
    ("activations", "tanh_grad", "def tanh_grad(z):\n    return 1 - np.tanh(z)", "the square is missing"),
    ("dropout", "l2_penalty",
     "def l2_penalty(weights, reg):\n    return reg * sum(np.sum(w ** 2) for w in weights), [reg * w for w in weights]",
     "missing its 0.5"),
    ("architecture", "count_parameters",
     "def count_parameters(sizes):\n    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))",
     "the biases are not counted"),
    ("neuron", "perceptron_update",
     "def perceptron_update(w, b, x, y, lr):\n    p = 1.0 if x @ w + b >= 0 else 0.0\n"
     "    return w + lr * (y - p) * x, b",
     "the bias is not updated"),
])
def test_other_assignments_name_the_likely_cause(assignment, name, source, cause):
    solution = solution_namespace(assignment)
    functions = {**solution, **define(source, solution)}
    result = load(assignment).PARTS_BY_ID[name].check(functions, True)
    assert result.fraction < 1
    assert any(cause in message for message in result.messages), result.messages


def test_over_budget_network_scores_nothing():
    too_big = {"train_x_sin_x": lambda seed: {
        "layer_sizes": [1, 300, 1], "activation": "relu",
        "weights": [np.zeros((1, 300)), np.zeros(300), np.zeros((300, 1)), np.zeros(1)]}}
    result = load("architecture").PARTS_BY_ID["train_x_sin_x"].check(too_big, True)
    assert result.fraction == 0
    assert any("over the budget" in message for message in result.messages)


def test_every_part_has_a_test_cell_with_its_points():
    for assignment in ASSIGNMENTS:
        cells = {nbgrader_meta(cell).get("grade_id"): nbgrader_meta(cell)
                 for cell in read(notebook_path(ROOT / "solutions", assignment)).cells}
        for part in load(assignment).PARTS:
            assert cells[part.grade_id]["grade"] and cells[part.grade_id]["points"] == part.points, part.grade_id
