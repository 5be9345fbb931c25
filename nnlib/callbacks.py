"""Training diagnostics that ``fit`` calls while it trains (the capstone chapter).

A callback is a subclass of ``Callback`` that overrides any of three hooks:
``on_train_begin(model)`` once before the first step,
``on_step(model, loss)`` after every parameter update, and
``on_epoch_end(epoch, history)`` after every epoch, where a true return value stops
training. ``fit`` also takes a plain function ``f(epoch, history)``, used as
``on_epoch_end``. Every recording callback starts afresh at ``on_train_begin``, so
its records describe the latest ``fit``. Shapes: N examples, D inputs, C classes, S recorded steps,
E recorded epochs, L layers with weights (as in book/notation.md).
"""
import numpy as np

from . import _checks
from .layers import ActivationLayer


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, model):
        self.model = model

    def on_step(self, model, loss):
        pass

    def on_epoch_end(self, epoch, history):
        return False


class EpochFunction(Callback):
    """Wraps ``function(epoch, history)`` as ``on_epoch_end``: how ``fit`` runs a plain callable."""

    def __init__(self, function):
        self.function = function

    def on_epoch_end(self, epoch, history):
        return self.function(epoch, history)


def as_callbacks(callback):
    """None, a Callback, a callable or a list of them -> list of Callback objects."""
    if callback is None:
        return []
    items = list(callback) if isinstance(callback, (list, tuple)) else [callback]
    for index, item in enumerate(items):
        if not isinstance(item, Callback) and not callable(item):
            raise TypeError(f"callback[{index}] must be an nnlib Callback or a function "
                            f"f(epoch, history), got {type(item).__name__}")
    return [item if isinstance(item, Callback) else EpochFunction(item) for item in items]


def accuracy(scores, y):
    """Fraction of rows whose highest score is the label. scores: (N, C); y: (N,) integers."""
    scores = _checks.as_array(scores, "scores", ndim=2, finite=False)
    _checks.same_rows(scores, np.asarray(y), "scores", "y")
    return float(np.mean(scores.argmax(axis=1) == y))


def confusion_matrix(y_true, y_pred, num_classes):
    """counts[i, j]: how many examples of class i were predicted as class j. Shape (C, C)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _checks.same_shape(y_true, y_pred, "y_true", "y_pred")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} must hold labels in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


class Accuracy(Callback):
    """Accuracy on named sets after every epoch: ``Accuracy(train=(x, y), test=(x_test, y_test))``.

    ``history[name]`` is the list of accuracies, one per epoch.
    """

    def __init__(self, **sets):
        if not sets:
            raise ValueError("Accuracy needs at least one named set, e.g. Accuracy(train=(x, y))")
        self.sets = {}
        for name, (x, y) in sets.items():
            x = _checks.as_array(x, f"{name} x", ndim=2)
            _checks.same_rows(x, np.asarray(y), f"{name} x", f"{name} y")
            self.sets[name] = (x, np.asarray(y))

    def on_train_begin(self, model):
        self.model, self.history = model, {name: [] for name in self.sets}

    def on_epoch_end(self, epoch, history):
        for name, (x, y) in self.sets.items():
            self.history[name].append(accuracy(self.model.predict(x), y))


def weight_layers(model):
    """The layers that hold a weight matrix ``W`` (Dense, Maxout), in order."""
    return [layer for layer in model.layers if "W" in layer.params]


def layer_names(model):
    """One label per weight matrix, e.g. ``['W1 64x128', 'W2 128x10']``."""
    return [f"W{index} {layer.params['W'].shape[0]}x{layer.params['W'].shape[1]}"
            for index, layer in enumerate(weight_layers(model), start=1)]


class GradientStats(Callback):
    """Per step and weight matrix: the gradient norm ||dW|| and the update ratio ||dW_step|| / ||W||.

    The update is what the optimizer actually changed (W after minus W before the
    step), so the ratio means the same for SGD, momentum and Adam. About 1e-3 is
    Karpathy's rule of thumb for a healthy learning rate.

    After training, ``grad_norms`` and ``update_ratios`` are arrays of shape (S, L)
    and ``names`` labels the L columns.
    """

    def on_train_begin(self, model):
        self.model, self.names = model, layer_names(model)
        self._layers = weight_layers(model)
        self._before = [layer.params["W"].copy() for layer in self._layers]
        self._grad_norms, self._update_ratios = [], []

    def on_step(self, model, loss):
        grad_norms, ratios = [], []
        for layer, before in zip(self._layers, self._before):
            weights = layer.params["W"]
            grad_norms.append(np.linalg.norm(layer.grads["W"]))
            ratios.append(np.linalg.norm(weights - before) / np.linalg.norm(before))
            before[...] = weights
        self._grad_norms.append(grad_norms)
        self._update_ratios.append(ratios)

    @property
    def grad_norms(self):
        return np.array(self._grad_norms).reshape(-1, len(self.names))

    @property
    def update_ratios(self):
        return np.array(self._update_ratios).reshape(-1, len(self.names))


def layer_activations(model, x):
    """Run ``x`` (N, D) through ``model`` in evaluation mode; return ``(z, a)`` per activation layer.

    z is the layer's input (pre-activation) and a = f(z) its output, both (N, M).
    """
    out = _checks.as_array(x, "x", ndim=2)
    pairs = []
    for layer in model.layers:
        z, out = out, layer.forward(out, training=False)
        if isinstance(layer, ActivationLayer):
            pairs.append((z, out))
    return pairs


def dead_units(model, x):
    """Per activation layer, how many units pass no gradient for any row of ``x``.

    A unit is dead on ``x`` when f'(z) = 0 for every example: for ReLU, z <= 0
    everywhere. It then never learns again from these inputs.
    """
    return _count_dead(model, layer_activations(model, x))


def _count_dead(model, pairs):
    layers = [layer for layer in model.layers if isinstance(layer, ActivationLayer)]
    return [int(np.sum(np.all(layer.activation.derivative(z) == 0, axis=0))) for layer, (z, _) in zip(layers, pairs)]


class ActivationStats(Callback):
    """Every ``every`` epochs (and before training, epoch 0), on the fixed probe inputs ``x``:
    per activation layer the mean and standard deviation of its outputs and its dead units.

    ``epochs`` lists the recorded epochs; ``mean``, ``std`` and ``dead`` are arrays
    with one row per recorded epoch and one column per activation layer.
    """

    def __init__(self, x, every=1):
        self.x = _checks.as_array(x, "x", ndim=2)
        self.every = _checks.positive(every, "every", integer=True)

    def on_train_begin(self, model):
        self.model, self.epochs, self._rows = model, [], []
        self._record(0)

    def on_epoch_end(self, epoch, history):
        if epoch % self.every == 0:
            self._record(epoch)

    def _record(self, epoch):
        pairs = layer_activations(self.model, self.x)
        self.epochs.append(epoch)
        self._rows.append(([a.mean() for _, a in pairs], [a.std() for _, a in pairs], _count_dead(self.model, pairs)))

    @property
    def mean(self):
        return np.array([row[0] for row in self._rows])

    @property
    def std(self):
        return np.array([row[1] for row in self._rows])

    @property
    def dead(self):
        return np.array([row[2] for row in self._rows])
