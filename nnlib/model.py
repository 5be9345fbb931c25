"""Sequential models and the multilayer perceptron (chapters 3 and 7)."""
import numpy as np

from . import _checks
from .activations import ACTIVATIONS
from .layers import ActivationLayer, Dense, Dropout, Layer, Maxout

HIDDEN_ACTIVATIONS = sorted(set(ACTIVATIONS) | {"maxout"})


class Sequential:
    """Layers applied in order, with an optional L1/L2 penalty on the weights.

    Parameters
    ----------
    layers : list of Layer
    l1, l2 : float >= 0
        Penalty strengths. The penalty ``l1 * sum|W| + 0.5 * l2 * sum W^2`` runs
        over the parameters each layer lists in ``penalised`` (Dense: ``W``, never
        biases); ``backward`` adds its gradient ``l1 * sign(W) + l2 * W`` (chapter 7).
    """

    def __init__(self, layers, l1=0.0, l2=0.0):
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{index}] must be an nnlib Layer, got {type(layer).__name__}")
        for name, value in (("l1", l1), ("l2", l2)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.layers = list(layers)
        self.l1, self.l2 = float(l1), float(l2)

    def forward(self, x, training=False):
        """x: (N, D) -> output of the last layer, e.g. (N, C)."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dout):
        """Backpropagate dL/d(output) through every layer; fills each layer's grads."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        for weights, grad in self.penalised():
            if self.l2:
                grad += self.l2 * weights
            if self.l1:
                grad += self.l1 * np.sign(weights)
        return dout

    def predict(self, x):
        """Forward pass in evaluation mode (dropout off); x: (N, D)."""
        return self.forward(_checks.as_array(x, "x", ndim=2), training=False)

    __call__ = predict

    def penalty(self):
        """The regularization term added to the data loss (0 without l1 and l2)."""
        if not (self.l1 or self.l2):
            return 0.0
        total = 0.0
        for weights, _ in self.penalised():
            total += self.l1 * np.abs(weights).sum() + 0.5 * self.l2 * np.sum(weights**2)
        return float(total)

    def parameters(self):
        """List of (parameter, gradient) array pairs, in layer order."""
        return [
            (layer.params[name], layer.grads[name]) for layer in self.layers for name in layer.params
        ]

    def penalised(self):
        """(parameter, gradient) pairs of the parameters the layers declare penalised."""
        return [(layer.params[name], layer.grads[name]) for layer in self.layers for name in layer.penalised]

    def num_parameters(self):
        """Total number of learnable numbers (weights, biases, slopes)."""
        return sum(param.size for param, _ in self.parameters())

    def __repr__(self):
        inner = ",\n  ".join(repr_layer(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)  # {self.num_parameters()} parameters"


def repr_layer(layer):
    """One line describing a layer, e.g. ``Dense(3 -> 4)``."""
    if isinstance(layer, Maxout):
        return f"Maxout({layer.params['W'].shape[0]} -> {layer.out_features}, pieces={layer.num_pieces})"
    if isinstance(layer, Dense):
        return "Dense({} -> {})".format(*layer.params["W"].shape)
    if isinstance(layer, ActivationLayer):
        return repr(layer.activation)
    if isinstance(layer, Dropout):
        return f"Dropout(drop_prob={layer.drop_prob})"
    return type(layer).__name__


def _default_init(activation):
    return "xavier_normal" if activation in ("sigmoid", "tanh", "identity") else "he_normal"


def mlp(layer_sizes, activation="relu", output_activation="identity", *, rng,
        init=None, drop_prob=0.0, l1=0.0, l2=0.0, **activation_params):
    """Build a multilayer perceptron from its layer sizes (chapter 3).

    Parameters
    ----------
    layer_sizes : sequence of int
        [n_0, n_1, ..., n_L]: inputs, each hidden layer's width, outputs. A
        network of L layers has L + 1 sizes: the input layer is not counted.
    activation : str
        Hidden activation, one of ``HIDDEN_ACTIVATIONS``; "maxout" makes
        each hidden layer a two-piece ``Maxout``.
    output_activation : str
        "identity" for regression or for losses that take logits.
    rng : numpy.random.Generator
        Draws the initial weights and the dropout masks.
    init : str, optional
        Initializer name; default He for the ReLU family, Xavier for tanh/sigmoid.
    drop_prob : float in [0, 1)
        Dropout after every hidden activation (0 = none).
    l1, l2 : float
        Weight penalties, see ``Sequential``.
    activation_params
        Passed to the activation, e.g. ``slope=0.1`` for leaky_relu.

    Examples
    --------
    >>> mlp([3, 4, 2], rng=np.random.default_rng(0)).num_parameters()
    26
    """
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {sizes}")
    for index, size in enumerate(sizes):
        _checks.positive(size, f"layer_sizes[{index}]", integer=True)
    _checks.choice(activation, "activation", HIDDEN_ACTIVATIONS)
    _checks.choice(output_activation, "output_activation", ACTIVATIONS)
    init = init or _default_init(activation)
    layers = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        if activation == "maxout":
            layers.append(Maxout(fan_in, fan_out, rng, init=init))
        else:
            layers += [Dense(fan_in, fan_out, rng, init), ActivationLayer(activation, **activation_params)]
        if drop_prob:
            layers.append(Dropout(drop_prob, rng))
    layers.append(Dense(sizes[-2], sizes[-1], rng, "xavier_normal" if init == "he_normal" else init))
    if output_activation != "identity":
        layers.append(ActivationLayer(output_activation))
    model = Sequential(layers, l1=l1, l2=l2)
    model.layer_sizes = sizes
    return model


def count_parameters(layer_sizes):
    """Weights and biases of a fully connected network, counted from its sizes.

    Returns
    -------
    dict with ``neurons`` (all units but the inputs), ``weights``, ``biases``
    and ``parameters`` (weights + biases). For [3, 4, 2]: 6, 20, 6, 26.
    """
    sizes = list(layer_sizes)
    for index, size in enumerate(sizes):
        _checks.positive(size, f"layer_sizes[{index}]", integer=True)
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    biases = sum(sizes[1:])
    return {"neurons": biases, "weights": weights, "biases": biases, "parameters": weights + biases}


def _first_dense_1d(model):
    first = model.layers[0]
    if not isinstance(first, Dense) or first.params["W"].shape[0] != 1:
        raise ValueError("hinges are defined for a model whose first layer is Dense with 1 input")
    return first


def hinge_positions(model):
    """Where each first-layer unit of a 1-D-input model switches on: x_j = -b_j / w_j (chapter 8).

    For a ReLU unit this is the kink its hinge adds to the fitted curve.

    Returns
    -------
    array, shape (M,), M the first layer's units
        In the units of the model's input (rescale if the inputs were scaled).
    """
    first = _first_dense_1d(model)
    return -first.params["b"] / first.params["W"][0]


RIDGE = 1e-9  # solve_output_layer's ridge, relative to the mean squared feature


def solve_output_layer(model, x, y):
    """Set the last layer's W and b to the least-squares fit of y on the last hidden layer (chapter 8).

    With the hidden layers fixed, a network with an identity output is linear in
    its output weights, so the W^(L), b^(L) that minimise the mean squared error
    on (x, y) solve a linear least-squares problem, here by its normal equations
    with a ridge of 1e-9 times the mean squared feature on W^(L), so that dead or
    duplicated units get weights near 0 instead of a singular system. Alternating this solve with
    gradient steps on the hidden layers is the hybrid least-squares / gradient
    descent training of Cyr et al. (2020). The model is changed in place; returns
    the training MSE after the solve.
    """
    last = model.layers[-1]
    if not isinstance(last, Dense):
        raise ValueError(f"solve_output_layer needs a model whose last layer is Dense (identity output), "
                         f"got {type(last).__name__}")
    x = _checks.as_array(x, "x", ndim=2)
    y = np.asarray(y, dtype=float)
    if y.ndim != 2 or y.shape != (x.shape[0], last.params["W"].shape[1]):
        raise ValueError(f"y must have shape {(x.shape[0], last.params['W'].shape[1])} (one row per example of x, "
                         f"one column per output), got {y.shape}")
    features = x
    for layer in model.layers[:-1]:
        features = layer.forward(features, training=False)
    design = np.column_stack([features, np.ones(len(features))])
    # Normal equations with a tiny ridge on the weights (not the bias): a dead or
    # duplicated unit makes them singular, and the ridge then gives it weight ~0.
    gram = design.T @ design
    ridge = RIDGE * max(np.trace(gram) / len(gram), 1e-300)
    gram[np.arange(len(gram) - 1), np.arange(len(gram) - 1)] += ridge
    coef = np.linalg.solve(gram, design.T @ y)
    last.params["W"][:] = coef[:-1]
    last.params["b"][:] = coef[-1]
    residual = design @ coef - y
    return float(np.vdot(residual, residual)) / residual.size


def spread_hinges(model, rng, low=-1.0, high=1.0):
    """Move the first layer's kinks to random points of [low, high] (chapter 8).

    With zero biases every unit of a 1-D-input model kinks at x = 0, and
    training must first drag the kinks to where the target bends. Setting
    b_j = -w_j c_j with c_j ~ U(low, high) starts unit j's kink at c_j. The
    model is changed in place and returned.
    """
    first = _first_dense_1d(model)
    positions = _checks.generator(rng).uniform(low, high, size=first.params["b"].shape)
    first.params["b"][:] = -first.params["W"][0] * positions
    return model
