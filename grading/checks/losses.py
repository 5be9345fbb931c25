"""Checks of the ``losses`` assignment: each loss returns (cost, gradient w.r.t. the prediction).

The cost is the mean over the batch (over every entry for MSE), so each gradient carries
the 1/N. Values are compared with ``nnlib.losses`` (a gradient check alone would accept a
sum instead of a mean, consistent with its own gradient), gradients with nnlib and with
centred differences; stability cases use logits and scores of size 1e3 and more.
"""
import numpy as np

from nnlib.gradcheck import numerical_gradient
from nnlib.losses import binary_cross_entropy_with_logits, mse as reference_mse

from . import base
from .backprop import checked_loss, softmax_cross_entropy_cases
from .base import check_unchanged, compare, part, unpack

VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 3  # hidden seeds per part, drawn from the course secret (base.HiddenInputs)

BCE_OVERFLOW = ("exp or log overflows for large logits: use max(z, 0) - z y + log1p(exp(-|z|)), "
                "never log(sigmoid(z))")


def _seeds(hidden):
    return base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)


def _loss_case(call, function, reference, prediction, target, nonfinite=None, value_causes=(),
               grad_causes=()):
    """Compare a loss's value and gradient with ``reference`` and with centred differences."""
    def case():
        given_prediction, given_target = prediction.copy(), target.copy()
        loss, grad = unpack(call(function, given_prediction, given_target), 2, function)
        check_unchanged(prediction, given_prediction, "the prediction", function)
        check_unchanged(target, given_target, "the target", function)
        expected_loss, expected_grad = reference(prediction, target)
        loss = checked_loss(loss, nonfinite)
        compare(loss, expected_loss, "loss", tol=1e-7, causes=[(d, c(expected_loss)) for d, c in value_causes])
        compare(grad, expected_grad, "gradient", tol=1e-7, nonfinite=nonfinite,
                causes=[(d, c(expected_grad)) for d, c in grad_causes])
        if np.all(np.abs(prediction) < 100):
            numeric = numerical_gradient(lambda p: reference(p, target)[0], prediction.copy())
            compare(grad, numeric, "gradient (against centred differences)", tol=1e-6)

    return case


@part("mse", ("mse",), points=2)
def check_mse(call, hidden):
    """Mean over all entries of (y_hat - y)^2 and 2 (y_hat - y) / size, for (N,) and (N, K)."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        for shape in ((7,), (5, 3)) if hidden else ((5, 3),):
            y_hat, y = rng.standard_normal(shape), rng.standard_normal(shape)
            size = y.size
            yield f"seed {seed}, shape {shape}", _loss_case(
                call, "mse", reference_mse, y_hat, y,
                value_causes=[("the loss is a sum, not a mean over the entries", lambda v: v * size),
                              ("the loss is half the mean squared error", lambda v: v / 2)],
                grad_causes=[("the gradient is missing the 1/size of the mean", lambda g: g * size),
                             ("the gradient is missing the factor 2 of the square", lambda g: g / 2),
                             ("the gradient has the wrong sign: it is 2 (y_hat - y) / size", lambda g: -g)])


@part("bce_with_logits", ("bce_with_logits",), points=3)
def check_bce_with_logits(call, hidden):
    """Binary cross-entropy from logits z (N,) and labels in {0, 1}; finite for |z| = 1000."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        n = 6 + seed % 3
        y = rng.integers(0, 2, size=n).astype(float)
        cases = [(f"seed {seed}, logits ({n},)", 2 * rng.standard_normal(n), None)]
        cases.append((f"seed {seed}, logits of size 1e3 (stability)", 1e3 * rng.standard_normal(n), BCE_OVERFLOW))
        if hidden:
            cases.append((f"seed {seed}, all-zero logits", np.zeros(n), None))
        for label, z, nonfinite in cases:
            yield label, _loss_case(
                call, "bce_with_logits", binary_cross_entropy_with_logits, z, y, nonfinite=nonfinite,
                value_causes=[("the loss is a sum, not a mean over the batch", lambda v: v * n)],
                grad_causes=[("the gradient is off by exactly N: the mean carries 1/N", lambda g: g * n),
                             ("the gradient has the wrong sign: it is (sigmoid(z) - y) / N", lambda g: -g)])


check_softmax_cross_entropy = part("softmax_cross_entropy", ("softmax_cross_entropy",), points=3)(
    softmax_cross_entropy_cases)

PARTS = [check_mse, check_bce_with_logits, check_softmax_cross_entropy]
PARTS_BY_ID = {p.grade_id: p for p in PARTS}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
