"""Linear regions of one-input ReLU networks, and Telgarsky's sawtooth (chapter "What networks compute").

A ReLU network of one input is a piecewise-linear curve. Its kinks are the points
where some unit's pre-activation crosses zero; between two neighbouring kinks every
unit keeps its on/off state, so the curve is one straight piece there.
"""
import numpy as np

from . import _checks
from .layers import ActivationLayer, Dense
from .model import Sequential, repr_layer

_PIECEWISE_LINEAR = ("identity", "relu", "leaky_relu")


def sawtooth(depth):
    """Telgarsky's deep narrow network: the tent map composed ``depth`` times (chapter "What networks compute").

    The tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) is 2x on [0, 1/2] and 2 - 2x on
    [1/2, 1]. Composed k times it zigzags between 0 and 1 with 2^k straight pieces
    on [0, 1], from only 2k hidden units (k layers of width 2).

    Returns
    -------
    nnlib.Sequential mapping (N, 1) -> (N, 1).
    """
    _checks.positive(depth, "depth", integer=True)
    rng = np.random.default_rng(0)  # the weights are all overwritten below

    def dense(weights, biases):
        layer = Dense(len(weights), len(weights[0]), rng)
        layer.params["W"][:] = weights
        layer.params["b"][:] = biases
        return layer

    layers = [dense([[1.0, 1.0]], [0.0, -0.5]), ActivationLayer("relu")]
    for _ in range(depth - 1):
        # Next layer's pre-activations t and t - 1/2, with t = 2 h1 - 4 h2 from this layer.
        layers += [dense([[2.0, 2.0], [-4.0, -4.0]], [0.0, -0.5]), ActivationLayer("relu")]
    layers.append(dense([[2.0], [-4.0]], [0.0]))
    return Sequential(layers)


def kinks(model, low, high):
    """Every point of (low, high) where a unit of a one-input ReLU network switches on or off.

    Exact up to float rounding: the curve is followed layer by layer through its
    breakpoints (between two breakpoints each pre-activation is linear, so its zero
    crossing is found by linear interpolation), never sampled on a grid.

    Parameters
    ----------
    model : nnlib.Sequential of Dense and identity/ReLU/leaky-ReLU layers, input width 1.
    low, high : float, low < high
        The interval of the input examined.

    Returns
    -------
    array, one entry per kink
        Sorted kink positions; a network with k kinks has k + 1 linear regions on [low, high].
    """
    if not high > low:
        raise ValueError(f"high must be greater than low, got low={low!r}, high={high!r}")
    for index, layer in enumerate(model.layers):
        if isinstance(layer, ActivationLayer) and layer.activation.name not in _PIECEWISE_LINEAR:
            raise ValueError(f"model.layers[{index}] is {layer.activation.name!r}; "
                             f"kinks are defined for the activations {_PIECEWISE_LINEAR}")
        if not isinstance(layer, (Dense, ActivationLayer)):
            raise ValueError(f"model.layers[{index}] is a {type(layer).__name__}; expected Dense or ActivationLayer")
    first = model.layers[0]
    if not isinstance(first, Dense) or first.params["W"].shape[0] != 1:
        raise ValueError(f"model must take 1 input through a first Dense layer, got {repr_layer(first)}")
    points = np.array([float(low), float(high)])      # (P,) breakpoints so far
    for position, layer in enumerate(model.layers[:-1]):
        following = model.layers[position + 1]
        if not (isinstance(layer, Dense) and isinstance(following, ActivationLayer)
                and following.activation.name != "identity"):
            continue
        values = _forward(model.layers[:position + 1], points[:, None])
        left, right = values[:-1], values[1:]         # (points - 1, M) each pre-activation at both ends
        segment, unit = np.nonzero(left * right < 0)  # it crosses zero inside that segment
        share = left[segment, unit] / (left[segment, unit] - right[segment, unit])
        crossings = points[segment] + share * (points[segment + 1] - points[segment])
        points = _merge_close(np.unique(np.concatenate([points, crossings])), 1e-9 * (high - low))
    return points[1:-1]


def _merge_close(points, tolerance):
    """Sorted ``points`` without those closer than ``tolerance`` to the previous one kept.

    A unit whose pre-activation touches zero without crossing (as in the sawtooth's
    valleys) can, after rounding, dip below zero over an interval a few ulps wide and
    report two crossings for one kink; they are one kink.
    """
    kept = [points[0]]
    for point in points[1:-1]:
        if point - kept[-1] > tolerance:
            kept.append(point)
    if points[-1] - kept[-1] <= tolerance and len(kept) > 1:
        kept.pop()
    kept.append(points[-1])
    return np.array(kept)


def _forward(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def count_regions(model, low, high):
    """The number of linear regions of a one-input ReLU network on [low, high]: kinks + 1."""
    return len(kinks(model, low, high)) + 1


def hinge_network(positions, slope_changes, start=0.0, start_slope=0.0, low=-10.0):
    """A hand-built one-hidden-layer ReLU network from its hinges (chapter "What networks compute").

    y(x) = start + start_slope * relu(x - low) + sum_j slope_changes[j] * relu(x - positions[j]):
    on [low, ...) the curve starts at ``start`` with slope ``start_slope`` and its slope
    changes by ``slope_changes[j]`` at ``positions[j]``.

    Returns
    -------
    nnlib.Sequential mapping (N, 1) -> (N, 1), with len(positions) + 1 hidden units.
    """
    positions = _checks.as_array(positions, "positions", ndim=1)
    slope_changes = _checks.as_array(slope_changes, "slope_changes", ndim=1)
    _checks.same_shape(positions, slope_changes, "positions", "slope_changes")
    rng = np.random.default_rng(0)  # the weights are all overwritten below
    hidden, output = Dense(1, len(positions) + 1, rng), Dense(len(positions) + 1, 1, rng)
    hidden.params["W"][:] = 1.0
    hidden.params["b"][:] = -np.concatenate([[low], positions])
    output.params["W"][:, 0] = np.concatenate([[start_slope], slope_changes])
    output.params["b"][:] = start
    return Sequential([hidden, ActivationLayer("relu"), output])
