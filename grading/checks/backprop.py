"""Checks of the ``backprop`` assignment: layers as forward/backward pairs, a two-layer net.

Shapes: x (N, D), W (D, M), b (M,); two_layer_net has W1 (D, H), b1 (H,), W2 (H, C),
b2 (C,) and integer labels y (N,). Expected values come from numerical gradients
(centred differences in float64) of plain numpy references and from ``nnlib``; every
shape is non-square so a transposed gradient cannot pass. Caches are opaque: each
backward gets exactly the cache its forward returned.
"""
import numpy as np

from nnlib.gradcheck import numerical_gradient, numerical_gradient_upstream
from nnlib.losses import softmax_cross_entropy as reference_softmax_cross_entropy

from . import base
from .base import CheckFailed, as_checked_float, check_unchanged, compare, part, unpack

VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 3  # hidden seeds per part, drawn from the course secret (base.HiddenInputs)
# (N, D, M): batch, inputs, outputs; all different so every transposition shows.
LAYER_SHAPES = ((4, 5, 3), (7, 2, 6))
# (N, D, H, C) for the two-layer net.
NET_SHAPES = ((5, 4, 6, 3), (8, 3, 7, 4))

OVERFLOW = "softmax overflows for large scores: subtract each row's maximum before exp"
LOG_OF_ZERO = (
    "the loss takes the log of a probability that underflowed to 0 (or exp overflowed): "
    "compute log-probabilities with log-sum-exp, log p = s - max(s) - log(sum(exp(s - max(s))))"
)


def _seeds(hidden):
    return base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)


def _away_from_zero(rng, shape):
    """Standard normal draws at least 0.05 from 0, so ReLU kinks stay far from x +- h."""
    z = rng.standard_normal(shape)
    return np.where(np.abs(z) < 0.05, np.copysign(0.05, z) + z, z)


def _layer_cases(hidden):
    """(label, rng, N, D, M) for every seed and layer shape."""
    for seed in _seeds(hidden):
        for shape in LAYER_SHAPES if hidden else LAYER_SHAPES[:1]:
            yield f"seed {seed}, x {shape[:2]}, W {shape[1:]}", np.random.default_rng(seed), shape


@part("affine_forward", ("affine_forward",), points=2)
def check_affine_forward(call, hidden):
    """out = x W + b for random non-square shapes; inputs left unchanged."""
    for label, rng, (n, d, m) in _layer_cases(hidden):
        x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)

        def case(x=x, W=W, b=b):
            inputs = (x.copy(), W.copy(), b.copy())
            out, _ = unpack(call("affine_forward", *inputs), 2, "affine_forward")
            for before, after, name in zip((x, W, b), inputs, ("x", "W", "b")):
                check_unchanged(before, after, name, "affine_forward")
            compare(out, x @ W + b, "out", causes=[("the bias b is not added", x @ W)])

        yield label, case


@part("affine_backward", ("affine_forward", "affine_backward"), points=3)
def check_affine_backward(call, hidden):
    """dx, dW, db against numerical gradients of sum(out * dout)."""
    for label, rng, (n, d, m) in _layer_cases(hidden):
        x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
        dout = rng.standard_normal((n, m))

        def case(x=x, W=W, b=b, dout=dout):
            _, cache = unpack(call("affine_forward", x.copy(), W.copy(), b.copy()), 2, "affine_forward")
            upstream = dout.copy()
            dx, dW, db = unpack(call("affine_backward", upstream, cache), 3, "affine_backward")
            check_unchanged(dout, upstream, "dout", "affine_backward")
            num_dx = numerical_gradient_upstream(lambda v: v @ W + b, x.copy(), dout)
            num_dW = numerical_gradient_upstream(lambda v: x @ v + b, W.copy(), dout)
            num_db = numerical_gradient_upstream(lambda v: x @ W + v, b.copy(), dout)
            compare(dx, num_dx, "dx", causes=[
                ("dx should be dout @ W.T (shape (N, D)); W.T @ dout.T is its transpose", num_dx.T)])
            compare(dW, num_dW, "dW", causes=[
                ("a transposed weight gradient: dW.T matches; dW = x.T @ dout has W's shape (D, M)",
                 num_dW.T),
                ("dW is divided by the batch size N: the 1/N belongs to the loss, not the layer",
                 num_dW / n)])
            compare(db, num_db, "db", causes=[
                ("db is summed over the wrong axis: sum dout over the batch, axis 0", dout.sum(axis=1)),
                ("db is dout itself: sum it over the batch, axis 0", dout),
                ("db is a mean over the batch: sum it, the 1/N belongs to the loss", num_db / n)])

        yield label, case


@part("relu_forward", ("relu_forward",), points=1)
def check_relu_forward(call, hidden):
    """out = max(x, 0) elementwise; x left unchanged."""
    for label, rng, (n, d, _) in _layer_cases(hidden):
        x = _away_from_zero(rng, (n, d))

        def case(x=x):
            given = x.copy()
            out, _ = unpack(call("relu_forward", given), 2, "relu_forward")
            check_unchanged(x, given, "x", "relu_forward")
            compare(out, np.maximum(x, 0.0), "out")

        yield label, case


@part("relu_backward", ("relu_forward", "relu_backward"), points=2)
def check_relu_backward(call, hidden):
    """dx = dout where x > 0, else 0, through the cache relu_forward returned."""
    for label, rng, (n, d, _) in _layer_cases(hidden):
        x, dout = _away_from_zero(rng, (n, d)), rng.standard_normal((n, d))

        def case(x=x, dout=dout):
            _, cache = unpack(call("relu_forward", x.copy()), 2, "relu_forward")
            upstream = dout.copy()
            dx = call("relu_backward", upstream, cache)
            check_unchanged(dout, upstream, "dout", "relu_backward")
            expected = numerical_gradient_upstream(lambda v: np.maximum(v, 0.0), x.copy(), dout)
            compare(dx, expected, "dx", causes=[
                ("the ReLU mask is missing: dx equals dout; multiply by (x > 0)", dout),
                ("the ReLU mask is inverted: pass the gradient where x > 0", dout * (x <= 0)),
                ("dx is the mask alone: multiply it by dout", (x > 0).astype(float))])

        yield label, case


def _scores_cases(hidden):
    """(label, scores, y, cause if not finite): random, all-zero, large and huge scores."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        n, c = (6, 4) if seed % 2 else (5, 3)
        yield f"seed {seed}, scores ({n}, {c})", rng.standard_normal((n, c)), rng.integers(0, c, size=n), None
        yield f"seed {seed}, all-zero scores", np.zeros((n, c)), rng.integers(0, c, size=n), None
        large = 1e3 * rng.standard_normal((n, c))  # labels at the top score: a small, finite loss
        yield f"seed {seed}, scores of size 1e3", large, np.argmax(large, axis=1), OVERFLOW
        huge = 1e5 * rng.standard_normal((n, c))
        wrong = (np.argmax(huge, axis=1) + 1) % c  # labels away from the top score: a huge, finite loss
        yield f"seed {seed}, scores of size 1e5, wrong labels", huge, wrong, LOG_OF_ZERO


def softmax_cross_entropy_cases(call, hidden):
    """Mean cross-entropy and its gradient against nnlib and numerical gradients; stability.

    Shared with the ``losses`` assignment, which introduces the same function.
    """
    for label, scores, y, nonfinite in _scores_cases(hidden):

        def case(scores=scores, y=y, nonfinite=nonfinite):
            n = scores.shape[0]
            given_scores, given_y = scores.copy(), y.copy()
            loss, dscores = unpack(call("softmax_cross_entropy", given_scores, given_y), 2,
                                   "softmax_cross_entropy")
            check_unchanged(scores, given_scores, "scores", "softmax_cross_entropy")
            check_unchanged(y, given_y, "y", "softmax_cross_entropy")
            expected_loss, expected_grad = reference_softmax_cross_entropy(scores, y)
            loss = checked_loss(loss, nonfinite)
            compare(loss, expected_loss, "loss", causes=[
                ("the loss is summed over the batch instead of averaged (missing 1/N)", expected_loss * n)])
            compare(dscores, expected_grad, "dscores", nonfinite=nonfinite, causes=[
                ("dscores is off by exactly N: the gradient of a mean over the batch carries 1/N",
                 expected_grad * n),
                ("dscores is divided by N twice", expected_grad / n),
                ("dscores is the softmax alone: subtract 1 at each example's label", expected_grad + (
                    np.eye(scores.shape[1])[y] / n))])
            if np.all(np.abs(scores) < 100):  # centred differences are exact enough only here
                numeric = numerical_gradient(lambda s: reference_softmax_cross_entropy(s, y)[0], scores.copy())
                compare(dscores, numeric, "dscores (against centred differences)", tol=1e-6)

        yield label, case


check_softmax_cross_entropy = part("softmax_cross_entropy", ("softmax_cross_entropy",), points=3)(
    softmax_cross_entropy_cases)


def checked_loss(loss, nonfinite):
    """The returned loss as a float; when it is NaN or infinite, name the likely cause ``nonfinite``."""
    try:
        return as_checked_float(loss, "loss")
    except CheckFailed as failure:
        if nonfinite and "NaN or infinity" in str(failure):
            raise type(failure)(f"loss is NaN or infinite; likely cause: {nonfinite}") from None
        raise


# ---------------------------------------------------------------------------- two_layer_net

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def net_reference(X, params, y, reg):
    """(scores, data loss, penalty) of affine - ReLU - affine - softmax cross-entropy."""
    hidden = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    scores = hidden @ params["W2"] + params["b2"]
    if y is None:
        return scores, None, None
    penalty = 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    return scores, reference_softmax_cross_entropy(scores, y)[0], penalty


def _net_gradients(X, params, y, reg):
    """Numerical gradients of the full loss (data + penalty), one per parameter."""
    grads = {}
    for name in PARAM_NAMES:
        def loss_of(value, name=name):
            changed = dict(params, **{name: value})
            _, data_loss, penalty = net_reference(X, changed, y, reg)
            return data_loss + penalty

        grads[name] = numerical_gradient(loss_of, params[name].copy())
    return grads


def _net_inputs(seed, shape):
    """X, params and labels; every hidden pre-activation at least 0.05 from the ReLU kink."""
    n, d, h, c = shape
    rng = np.random.default_rng(seed)
    while True:
        X = rng.standard_normal((n, d))
        params = {
            "W1": 0.8 * rng.standard_normal((d, h)), "b1": 0.3 * rng.standard_normal(h),
            "W2": 0.8 * rng.standard_normal((h, c)), "b2": 0.3 * rng.standard_normal(c),
        }
        if np.min(np.abs(X @ params["W1"] + params["b1"])) >= 0.05:
            return X, params, rng.integers(0, c, size=n)


def _upstream_gradients(X, params, y):
    """dL/dscores (N, C) and dL/d(hidden pre-activation) (N, H) of the data loss."""
    pre = X @ params["W1"] + params["b1"]
    scores = np.maximum(pre, 0.0) @ params["W2"] + params["b2"]
    dscores = reference_softmax_cross_entropy(scores, y)[1]
    return dscores, (dscores @ params["W2"].T) * (pre > 0)


def _net_cases(hidden):
    for index, seed in enumerate(_seeds(hidden)):
        shape = NET_SHAPES[index % len(NET_SHAPES)]
        X, params, y = _net_inputs(seed, shape)
        regs = (0.0, 0.1) if not hidden else (0.0, 0.25 + 0.5 * index)
        yield f"seed {seed}, scores", X, params, None, 0.0
        for reg in regs:
            yield f"seed {seed}, loss and gradients with reg={reg}", X, params, y, reg


@part("two_layer_net", ("two_layer_net",), points=4)
def check_two_layer_net(call, hidden):
    """Scores, loss (data + 0.5 reg (|W1|^2 + |W2|^2)) and every gradient; params unchanged."""
    for label, X, params, y, reg in _net_cases(hidden):

        def case(X=X, params=params, y=y, reg=reg):
            given_X = X.copy()
            given = {name: value.copy() for name, value in params.items()}
            if y is None:
                scores = call("two_layer_net", given_X, given)
            else:
                result = call("two_layer_net", given_X, given, y.copy(), reg)
            check_unchanged(X, given_X, "X", "two_layer_net")
            if not isinstance(given, dict) or set(given) != set(params):
                raise CheckFailed("two_layer_net changed the keys of params; leave params as given")
            for name in PARAM_NAMES:
                check_unchanged(params[name], given[name], f"params['{name}']", "two_layer_net")
            expected_scores, data_loss, penalty = net_reference(X, params, y, reg)
            if y is None:
                linear = (X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
                compare(scores, expected_scores, "scores", causes=[
                    ("the ReLU between the two layers is missing", linear)])
                return
            loss, grads = unpack(result, 2, "two_layer_net(X, params, y, reg)")
            sum_squares = np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)
            compare(as_checked_float(loss, "loss"), data_loss + penalty, "loss", causes=[
                ("the L2 penalty is missing from the loss", data_loss),
                ("the penalty is missing its 0.5: use 0.5 * reg * (|W1|^2 + |W2|^2)",
                 data_loss + reg * sum_squares),
                ("the data loss is summed over the batch instead of averaged (missing 1/N)",
                 data_loss * X.shape[0] + penalty)])
            if not isinstance(grads, dict):
                raise CheckFailed(f"grads must be a dict keyed {', '.join(PARAM_NAMES)}, "
                                  f"got a {type(grads).__name__}")
            missing = [name for name in PARAM_NAMES if name not in grads]
            if missing:
                raise CheckFailed(f"grads has no entry {', '.join(missing)}")
            expected = _net_gradients(X, params, y, reg)
            data_only = _net_gradients(X, params, y, 0.0)
            n = X.shape[0]
            dscores, dpre = _upstream_gradients(X, params, y)
            for name in PARAM_NAMES:
                causes = [(f"{name}'s gradient is off by exactly N: the loss is a mean over the batch",
                           data_only[name] * n + (expected[name] - data_only[name]))]
                if name.startswith("W"):
                    causes += [
                        (f"the regularization gradient is left out: d{name} matches the reg=0 gradient; "
                         f"add reg * {name}", data_only[name]),
                        (f"the regularization gradient is 2 * reg * {name}; with the 0.5 in the penalty "
                         f"it is reg * {name}", data_only[name] + 2 * reg * params[name]),
                        (f"a transposed weight gradient: d{name}.T matches", expected[name].T)]
                else:
                    upstream = dscores if name == "b2" else dpre
                    causes += [
                        ("biases are not regularized: leave reg * b out of their gradient",
                         data_only[name] + reg * params[name]),
                        (f"{name}'s gradient is summed over the wrong axis: sum over the batch, axis 0",
                         upstream.sum(axis=1))]
                compare(grads[name], expected[name], f"grads['{name}']", tol=1e-6, causes=causes)

        yield label, case


# ---------------------------------------------------------------------------- gradient checking

@part("relative_error", ("relative_error",), points=1)
def check_relative_error(call, hidden):
    """max |a - n| / max(|a| + |n|, 1e-12) entrywise, as the gradient-checking page defines it."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        analytic = rng.standard_normal((3, 4))
        numeric = analytic * (1 + 1e-4 * rng.standard_normal((3, 4)))
        # The worst entry has a < n, so a missing absolute value on a - n cannot pass by luck.
        index = tuple(rng.integers(0, size) for size in analytic.shape)
        below = numeric.copy()
        below[index] = analytic[index] + 1e-2 * abs(analytic[index]) + 1e-3
        pairs = [("close arrays", analytic, numeric), ("equal arrays", analytic, analytic.copy()),
                 ("close arrays, worst entry where a < n", analytic, below),
                 ("both zero", np.zeros((2, 3)), np.zeros((2, 3))),
                 # Different signs too: a missing absolute value shows on the visible check as well.
                 ("different arrays", analytic, rng.standard_normal((3, 4)))]
        for name, a, b in pairs:
            def case(a=a, b=b):
                expected = float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))
                got = as_checked_float(call("relative_error", a.copy(), b.copy()), "relative_error")
                if abs(got - expected) > 1e-9 * max(1.0, expected) + 1e-15:
                    raise CheckFailed("the relative error returned is wrong; use the largest entrywise "
                                      "|a - n| / max(|a| + |n|, 1e-12)")

            yield f"seed {seed}, {name}", case


@part("numerical_gradient", ("numerical_gradient",), points=0)
def check_numerical_gradient(call, hidden):
    """Centred differences of a scalar function; x restored afterwards. Ungraded self-check."""
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((3, 4))
    x = rng.standard_normal((3, 4))

    def case():
        given = x.copy()
        got = call("numerical_gradient", lambda v: float(np.sum(np.sin(v) * weights)), given)
        check_unchanged(x, given, "x", "numerical_gradient")
        one_sided = (np.sin(x + 1e-5) - np.sin(x)) / 1e-5 * weights
        compare(got, np.cos(x) * weights, "the numerical gradient of sum(sin(x) * A)", tol=1e-7, causes=[
            ("a one-sided difference: use (f(x + h) - f(x - h)) / (2h)", one_sided)])

    yield "sum(sin(x) * A) at x of shape (3, 4)", case


PARTS = [check_affine_forward, check_affine_backward, check_relu_forward, check_relu_backward,
         check_softmax_cross_entropy, check_two_layer_net, check_relative_error]
PARTS_BY_ID = {p.grade_id: p for p in PARTS + [check_numerical_gradient]}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
