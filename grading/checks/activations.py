"""Checks of the ``activations`` assignment: seven activations, their derivatives, softmax.

Each function takes an array ``z`` of any shape and returns an array of the same shape;
``leaky_relu`` and ``elu`` (and their derivatives) take a ``slope`` / ``alpha`` keyword.
Values and derivatives are compared with ``nnlib.activations``; derivatives also with
centred differences; stability cases use |z| = 1000, where a naive ``exp`` overflows.
"""
import numpy as np

from nnlib.activations import get_activation
from nnlib.activations import softmax as reference_softmax

from . import base
from .base import compare, part

VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 2  # hidden seeds per part, drawn from the course secret (base.HiddenInputs)
SHAPES = ((6,), (4, 5))
SMOOTH = ("sigmoid", "tanh", "softplus", "swish")  # differentiable at 0, so z = 0 is a fair case
PARAMETERS = {"leaky_relu": ("slope", 0.01, 0.2), "elu": ("alpha", 1.0, 0.5)}  # name, default, other

STABLE_HINT = {
    "sigmoid": "exp overflows for large |z|; use exp of -|z| only, or (1 + tanh(z / 2)) / 2",
    "softplus": "log(1 + exp(z)) overflows for large z; use np.logaddexp(0, z) or "
                "max(z, 0) + log1p(exp(-|z|))",
    "swish": "the sigmoid inside overflows for large |z|; compute it stably",
    "elu": "exp(z) overflows for large positive z even in the unused branch of np.where; "
           "use exp(min(z, 0))",
}

# Wrong answers known mistakes give, as functions of z: (description, candidate(z)).
MISTAKES = {
    "sigmoid_grad": [("this is sigmoid(z) itself, not its derivative s (1 - s)",
                      lambda z: get_activation("sigmoid").value(z))],
    "tanh_grad": [("the square is missing: the derivative is 1 - tanh(z)^2", lambda z: 1 - np.tanh(z))],
    "relu_grad": [("this is relu(z) itself; the derivative is 1 where z > 0, else 0",
                   lambda z: np.maximum(z, 0.0))],
    "softplus_grad": [("the derivative of softplus is sigmoid(z), not exp(z)", np.exp)],
    "swish_grad": [("the z s (1 - s) term of the product rule is missing",
                    lambda z: get_activation("sigmoid").value(z))],
}


def _seeds(hidden):
    return base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)


def _inputs(name, hidden):
    """(label, z) cases: random shapes kept away from kinks, z = 0 for smooth ones, +-1000."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        for shape in SHAPES if hidden else SHAPES[1:]:
            z = 3 * rng.standard_normal(shape)
            yield f"seed {seed}, z of shape {shape}", np.where(np.abs(z) < 0.05, 0.5, z)
    if name in SMOOTH and hidden:
        yield "z all zero", np.zeros((2, 3))
    yield "z = +-1000 (stability)", np.array([[-1000.0, -50.0, 50.0, 1000.0]])


def _options(name, hidden):
    """Keyword arguments to test with: the default, and another value when hidden."""
    if name not in PARAMETERS:
        return [{}]
    keyword, default, other = PARAMETERS[name]
    return [{}, {keyword: other}] if hidden else [{}]


def _reference(name, kwargs):
    keyword_values = {PARAMETERS[name][0]: kwargs.get(PARAMETERS[name][0], PARAMETERS[name][1])} \
        if name in PARAMETERS else {}
    return get_activation(name, **keyword_values)


def _activation_part(name, derivative):
    function = f"{name}_grad" if derivative else name
    what = f"{function}(z)"

    def cases(call, hidden):
        for kwargs in _options(name, hidden):
            reference = _reference(name, kwargs)
            suffix = "".join(f", {key}={value}" for key, value in kwargs.items())
            for label, z in _inputs(name, hidden):
                def case(z=z, kwargs=kwargs, reference=reference):
                    given = z.copy()
                    got = call(function, given, **kwargs)
                    base.check_unchanged(z, given, "z", function)
                    expected = reference.derivative(z) if derivative else reference.value(z)
                    if derivative and np.all(np.abs(z) < 100):  # centred differences, an independent check
                        h = 1e-6
                        numeric = (reference.value(z + h) - reference.value(z - h)) / (2 * h)
                        compare(got, numeric, f"{what} (against centred differences)", tol=1e-5)
                    causes = [(description, candidate(z)) for description, candidate in MISTAKES.get(function, [])]
                    if name in PARAMETERS and kwargs:
                        default_reference = _reference(name, {})
                        causes.append((f"the {PARAMETERS[name][0]} argument is ignored",
                                       default_reference.derivative(z) if derivative else default_reference.value(z)))
                    compare(got, expected, what, tol=1e-7, causes=causes,
                            nonfinite=STABLE_HINT.get(name, "an overflow for large |z|"))

                yield label + suffix, case

    return part(function, (function,), points=1)(cases)


@part("softmax", ("softmax",), points=2)
def check_softmax(call, hidden):
    """Row-wise softmax of (N, C) scores: values, rows summing to 1, stability at 1e3, zeros."""
    inputs = []
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        n, c = (3, 5) if seed % 2 else (4, 3)
        inputs.append((f"seed {seed}, z ({n}, {c})", rng.standard_normal((n, c))))
        inputs.append((f"seed {seed}, z of size 1e3 (stability)", 1e3 * rng.standard_normal((n, c))))
        if hidden:
            inputs.append((f"seed {seed}, all-zero z", np.zeros((n, c))))
            inputs.append((f"seed {seed}, z shifted by 1e4", 1e4 + rng.standard_normal((n, c))))
    for label, z in inputs:
        def case(z=z):
            given = z.copy()
            got = call("softmax", given)
            base.check_unchanged(z, given, "z", "softmax")
            expected = reference_softmax(z)
            exp = np.exp(z - z.max())
            compare(got, expected, "softmax(z)", tol=1e-7, causes=[
                ("softmax normalised over the whole array: normalise each row (axis 1, keepdims=True)",
                 exp / exp.sum()),
                ("softmax normalised over the columns (axis 0): normalise each row (axis 1)",
                 np.exp(z - z.max(axis=0)) / np.exp(z - z.max(axis=0)).sum(axis=0))],
                nonfinite="exp overflows: subtract each row's maximum before exp")

        yield label, case


NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish")
PARTS = [_activation_part(name, derivative) for name in NAMES for derivative in (False, True)] + [check_softmax]
PARTS_BY_ID = {p.grade_id: p for p in PARTS}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
