"""Checks of the ``neuron`` assignment: one artificial neuron and the perceptron rule.

Shapes: x (N, D), w (D,), b a float. The step activation is 1 where z >= 0, else 0,
as in ``nnlib.activations.Step``; labels are 0 or 1.
"""
import numpy as np

from nnlib.activations import get_activation
from nnlib.datasets import blobs

from . import base
from .base import CheckFailed, as_checked_array, as_checked_float, check_unchanged, compare, part, unpack

VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 3  # hidden seeds per part, drawn from the course secret (base.HiddenInputs)
ACTIVATIONS = ("identity", "sigmoid", "step")


def _seeds(hidden):
    return base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)


@part("neuron_forward", ("neuron_forward",), points=3)
def check_neuron_forward(call, hidden):
    """activation(x @ w + b) for each activation, random shapes; a zero pre-activation for step."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        n, d = (5, 3) if seed % 2 else (7, 4)
        x, w, b = rng.standard_normal((n, d)), rng.standard_normal(d), float(rng.standard_normal())
        for activation in ACTIVATIONS:
            yield f"seed {seed}, {activation}, x ({n}, {d})", _forward_case(call, x, w, b, activation)
    if hidden:
        x = np.random.default_rng(hidden.seed("zero weights")).standard_normal((4, 3))
        for activation in ACTIVATIONS:
            yield f"zero weights and bias, {activation}", _forward_case(call, x, np.zeros(3), 0.0, activation)


def _forward_case(call, x, w, b, activation):
    def case():
        given_x, given_w = x.copy(), w.copy()
        out = call("neuron_forward", given_x, given_w, b, activation)
        check_unchanged(x, given_x, "x", "neuron_forward")
        check_unchanged(w, given_w, "w", "neuron_forward")
        z = x @ w + b
        causes = [("the activation is not applied: out equals x @ w + b", z),
                  ("the bias b is missing", get_activation(activation).value(x @ w))]
        if activation == "step":
            causes.append(("the step must be 1 where z >= 0 (z == 0 included), else 0", (z > 0).astype(float)))
        compare(out, get_activation(activation).value(z), f"neuron_forward(..., '{activation}')", causes=causes)

    return case


def _update_reference(w, b, x, y, lr):
    prediction = 1.0 if x @ w + b >= 0 else 0.0
    return w + lr * (y - prediction) * x, b + lr * (y - prediction)


@part("perceptron_update", ("perceptron_update",), points=2)
def check_perceptron_update(call, hidden):
    """One step of the rule w <- w + lr (y - y_hat) x, b <- b + lr (y - y_hat) on one example."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        d = 3 + seed % 3
        w, x = rng.standard_normal(d), rng.standard_normal(d)
        b, lr = float(rng.standard_normal()), float(rng.uniform(0.1, 1.0))
        predicted = 1.0 if x @ w + b >= 0 else 0.0
        cases = [("a correct prediction", predicted), ("a wrong prediction", 1.0 - predicted)]
        if hidden:
            cases.append(("zero weights (z = 0 predicts 1), label 0", 0.0))
        for name, y in cases:
            start_w, start_b = (np.zeros(d), 0.0) if name.startswith("zero") else (w, b)
            yield f"seed {seed}, {name}", _update_case(call, start_w, start_b, x, y, lr)


def _update_case(call, w, b, x, y, lr):
    def case():
        given_w, given_x = w.copy(), x.copy()
        new_w, new_b = unpack(call("perceptron_update", given_w, b, given_x, y, lr), 2, "perceptron_update")
        check_unchanged(x, given_x, "x", "perceptron_update")
        expected_w, expected_b = _update_reference(w, b, x, y, lr)
        causes = [("the update has the wrong sign: add lr * (y - y_hat) * x", 2 * w - expected_w)]
        if not np.array_equal(expected_w, w):
            causes.append(("w is not updated although the prediction is wrong", w))
        compare(new_w, expected_w, "the new w", causes=causes)
        compare(as_checked_float(new_b, "the new b"), expected_b, "the new b", causes=[
            ("the bias is not updated: b <- b + lr * (y - y_hat)", b),
            ("the bias update has the wrong sign", 2 * b - expected_b)])

    return case


def _separable_sets(hidden):
    """(label, x, y): blobs of nnlib, some shifted away from the origin so the bias matters."""
    for seed in _seeds(hidden):
        x, y = blobs(num_points=100, seed=seed)
        yield f"blobs seed {seed}", x, y
        if hidden:
            yield f"blobs seed {seed} shifted by (3, 2)", x + np.array([3.0, 2.0]), y


@part("train_perceptron", ("train_perceptron",), points=2)
def check_train_perceptron(call, hidden):
    """The trained perceptron classifies every point of a separable set correctly."""
    for label, x, y in _separable_sets(hidden):
        def case(x=x, y=y):
            given_x, given_y = x.copy(), y.copy()
            w, b = unpack(call("train_perceptron", given_x, given_y), 2, "train_perceptron")
            check_unchanged(x, given_x, "x", "train_perceptron")
            w = as_checked_array(w, (x.shape[1],), "w")
            b = as_checked_float(b, "b")
            errors = int(np.sum((x @ w + b >= 0).astype(int) != y))
            if errors:
                raise CheckFailed(
                    f"{errors} of {len(y)} training points are misclassified; on a linearly separable "
                    "set the perceptron converges to 0 errors: keep looping over the data until an "
                    "epoch makes no update (and update the bias too)")

        yield label, case


PARTS = [check_neuron_forward, check_perceptron_update, check_train_perceptron]
PARTS_BY_ID = {p.grade_id: p for p in PARTS}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
