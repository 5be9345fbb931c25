"""Checks of the ``architecture`` assignment: counting parameters, fitting x sin(x) on a budget.

``count_parameters(layer_sizes) -> int``: weights and biases of a fully connected network.

``train_x_sin_x(seed) -> dict`` trains a network on ``nnlib.datasets.x_sin_x()`` and
returns it as plain data, ``{"layer_sizes": [1, ..., 1], "activation": name, "weights":
[W1, b1, W2, b2, ...]}``, with W_k of shape (layer_sizes[k-1], layer_sizes[k]). The
check rebuilds that network itself (hidden activation, identity output), so it scores
exactly the function described: its parameter count must stay within ``BUDGET`` and
its mean squared error on held-out points between the training points within
``TARGET_MSE``; training must be deterministic given the seed. Calling nnlib is
expected here (``no_nnlib=False``).
"""
import numpy as np

from nnlib.activations import get_activation
from nnlib.model import count_parameters as reference_count

from . import base
from .base import CheckFailed, as_checked_array, as_checked_float, compare, part

BUDGET = 600
TARGET_MSE = 0.25
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus", "swish")
# Held out: a grid of [-10, 10] offset from x_sin_x's 256 training points.
X_TEST = np.linspace(-9.93, 9.93, 157)[:, None]
Y_TEST = X_TEST * np.sin(X_TEST)
VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 2  # hidden seeds, drawn from the course secret (base.HiddenInputs)


@part("count_parameters", ("count_parameters",), points=2)
def check_count_parameters(call, hidden):
    """Total weights + biases for the book's examples and random layer-size lists."""
    sizes_list = [[3, 4, 2], [3, 4, 4, 1]]
    if hidden:
        rng = np.random.default_rng(hidden.seed("layer sizes"))
        sizes_list += [[int(s) for s in rng.integers(1, 40, size=depth)] for depth in (2, 3, 5, 6)]
    for sizes in sizes_list:
        def case(sizes=sizes):
            got = as_checked_float(call("count_parameters", list(sizes)), "count_parameters")
            counts = reference_count(sizes)
            weights, biases = counts["weights"], counts["biases"]
            compare(got, counts["parameters"], f"count_parameters({sizes})", tol=0, causes=[
                ("the biases are not counted: one per unit outside the input layer", weights),
                ("the input layer got biases too: it has none", weights + sum(sizes)),
                ("only the biases (units) are counted", biases),
                ("weights counted as sums of sizes: layer k has sizes[k-1] * sizes[k] weights",
                 sum(a + b for a, b in zip(sizes[:-1], sizes[1:])) + biases)])

        yield f"layer sizes {sizes}", case


def network_predictions(description, x):
    """Parameter count and predictions at ``x`` (N, 1) of a network given as plain data."""
    if not isinstance(description, dict):
        raise CheckFailed(f"train_x_sin_x must return a dict, got a {type(description).__name__}")
    missing = {"layer_sizes", "activation", "weights"} - set(description)
    if missing:
        raise CheckFailed(f"the returned dict has no {', '.join(sorted(missing))}")
    sizes = description["layer_sizes"]
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2 or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise CheckFailed("layer_sizes must be a list of positive ints, like [1, 16, 16, 1]")
    sizes = [int(s) for s in sizes]
    if sizes[0] != 1 or sizes[-1] != 1:
        raise CheckFailed(f"layer_sizes must start and end with 1 (one input x, one output), got {sizes}")
    activation = description["activation"]
    if activation not in ACTIVATIONS:
        raise CheckFailed(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    weights = description["weights"]
    if not isinstance(weights, (list, tuple)) or len(weights) != 2 * (len(sizes) - 1):
        raise CheckFailed(f"weights must be a list [W1, b1, W2, b2, ...] of {2 * (len(sizes) - 1)} arrays "
                          f"for layer_sizes {sizes}")
    num_parameters = reference_count(sizes)["parameters"]
    if num_parameters > BUDGET:
        raise CheckFailed(f"the network has {num_parameters} parameters, over the budget of {BUDGET}")
    hidden_activation = get_activation(activation)
    out = x
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = as_checked_array(weights[2 * layer], (fan_in, fan_out), f"W{layer + 1}")
        b = as_checked_array(weights[2 * layer + 1], (fan_out,), f"b{layer + 1}")
        out = out @ W + b
        if layer < len(sizes) - 2:
            out = hidden_activation.value(out)
    return num_parameters, out


@part("train_x_sin_x", ("train_x_sin_x",), points=4, no_nnlib=False)
def check_train_x_sin_x(call, hidden):
    """Within the budget, held-out MSE at most TARGET_MSE, same seed gives the same network."""
    for index, seed in enumerate(base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)):
        results = {}

        def fit(seed=int(seed), results=results):
            results["first"] = call("train_x_sin_x", seed)
            _, predictions = network_predictions(results["first"], X_TEST)
            error = float(np.mean((predictions - Y_TEST) ** 2))
            if not error <= TARGET_MSE:
                raise CheckFailed(f"the mean squared error on held-out points is {error:.3g}, above the "
                                  f"target {TARGET_MSE}: train longer, scale x, or shape the network better")

        yield f"seed {seed}: budget and held-out error", fit
        if hidden and index == 0:
            def deterministic(seed=int(seed), results=results):
                if "first" not in results:
                    raise CheckFailed("no network to compare with (the first training failed)")
                _, first = network_predictions(results["first"], X_TEST)
                _, again = network_predictions(call("train_x_sin_x", seed), X_TEST)
                if not np.array_equal(first, again):
                    raise CheckFailed("two trainings with the same seed gave different networks: draw all "
                                      "randomness from np.random.default_rng(seed)")

            yield f"seed {seed}: the same seed gives the same network", deterministic


PARTS = [check_count_parameters, check_train_x_sin_x]
PARTS_BY_ID = {p.grade_id: p for p in PARTS}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
