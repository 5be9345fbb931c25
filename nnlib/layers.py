"""Layers with ``forward`` and ``backward`` side by side (chapters 3, 5 and 7).

Shapes: N examples, D inputs (n_{l-1} in book/notation.md), M outputs or units (n_l).
Every layer keeps its parameters in
``params`` and the matching gradients, same names and shapes, in ``grads``;
``backward`` overwrites ``grads`` in place, so an optimizer holding references
to those arrays sees the new values.
"""
import numbers

import numpy as np

from . import _checks
from .activations import get_activation
from .initializers import get_initializer


class Layer:
    """Base class: no parameters, identity forward.

    ``penalised`` names the parameters that a model's L1/L2 penalty and an
    optimizer's weight decay apply to (chapter 7): none here, W in Dense.
    """

    penalised = ()

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout

    def _check_input(self, x, num_features):
        if x.ndim != 2 or x.shape[1] != num_features:
            raise ValueError(
                f"{type(self).__name__} expects x of shape (N, {num_features}), got {x.shape}"
            )

    def _check_upstream(self, dout, expected_shape):
        if dout.shape != expected_shape:
            raise ValueError(
                f"{type(self).__name__}.backward: dout has shape {dout.shape}, "
                f"expected the forward output's shape {expected_shape}"
            )


class Dense(Layer):
    """Fully connected layer, out = x W + b (chapter 3); backward in chapter 5.

    Parameters
    ----------
    in_features, out_features : int
        D and M: ``W`` has shape (D, M), ``b`` shape (M,).
    rng : numpy.random.Generator
        Draws the initial weights.
    init : str or callable
        Weight initializer (see ``nnlib.initializers``); biases start at 0.
    """

    penalised = ("W",)

    def __init__(self, in_features, out_features, rng, init="he_normal"):
        super().__init__()
        _checks.positive(in_features, "in_features", integer=True)
        _checks.positive(out_features, "out_features", integer=True)
        weights = get_initializer(init)((in_features, out_features), rng)
        self.params = {"W": weights, "b": np.zeros(out_features)}
        self.grads = {"W": np.zeros_like(weights), "b": np.zeros(out_features)}

    def forward(self, x, training=False):
        """x: (N, D) -> out: (N, M)."""
        self._check_input(x, self.params["W"].shape[0])
        self._x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        """dout: (N, M) -> dx: (N, D); sets dW = x^T dout (D, M), db = sum_n dout (M,)."""
        self._check_upstream(dout, (self._x.shape[0], self.params["b"].shape[0]))
        np.matmul(self._x.T, dout, out=self.grads["W"])
        dout.sum(axis=0, out=self.grads["b"])
        return dout @ self.params["W"].T


class ActivationLayer(Layer):
    """Applies an activation elementwise: out = f(z); dz = dout * f'(z) (chapter 2)."""

    def __init__(self, activation, **params):
        super().__init__()
        self.activation = get_activation(activation, **params)

    def forward(self, z, training=False):
        self._z = z
        return self.activation.value(z)

    def backward(self, dout):
        self._check_upstream(dout, self._z.shape)
        return dout * self.activation.derivative(self._z)


class PReLU(Layer):
    """Parametric ReLU (He et al., 2015): f(z) = z if z > 0 else a z, one learnable a per unit.

    Parameters
    ----------
    num_features : int
        M, the number of units; ``slope`` has shape (M,).
    init_slope : float
        Starting value of every slope (0.25 in the paper).
    """

    def __init__(self, num_features, init_slope=0.25):
        super().__init__()
        _checks.positive(num_features, "num_features", integer=True)
        self.params = {"slope": np.full(num_features, float(init_slope))}
        self.grads = {"slope": np.zeros(num_features)}

    def forward(self, z, training=False):
        """z: (N, M) -> (N, M)."""
        self._check_input(z, self.params["slope"].shape[0])
        self._z = z
        return np.where(z > 0, z, self.params["slope"] * z)

    def backward(self, dout):
        """dout: (N, M) -> dz: (N, M); dslope = sum_n dout * min(z, 0)."""
        self._check_upstream(dout, self._z.shape)
        np.sum(dout * np.minimum(self._z, 0.0), axis=0, out=self.grads["slope"])
        return dout * np.where(self._z > 0, 1.0, self.params["slope"])


class Dropout(Layer):
    """Inverted dropout (Srivastava et al., 2014) (chapter 7).

    In training each unit is zeroed with probability ``drop_prob`` and the
    survivors are scaled by 1 / (1 - drop_prob), so the expected output equals
    the input and test time needs no rescaling. With ``training=False`` it is
    the identity.

    Parameters
    ----------
    drop_prob : float in [0, 1)
        Probability of dropping each unit.
    rng : numpy.random.Generator
        Draws the masks.
    """

    def __init__(self, drop_prob, rng):
        super().__init__()
        if isinstance(drop_prob, bool) or not isinstance(drop_prob, numbers.Real) or not 0 <= drop_prob < 1:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob!r}")
        self.drop_prob = float(drop_prob)
        self.rng = _checks.generator(rng)

    def forward(self, x, training=False):
        """x: (N, M) -> (N, M); a fresh mask per call when training."""
        if not training or self.drop_prob == 0.0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape) >= self.drop_prob
        self._mask = keep / (1.0 - self.drop_prob)
        return x * self._mask

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask


class Maxout(Layer):
    """Maxout unit layer (Goodfellow et al., 2013): each output is the max of k affine pieces.

    out[n, m] = max_j (x W_j + b_j)[n, m]; it generalises ReLU and leaky ReLU
    and costs k times the parameters of a Dense layer (chapter 2).

    Parameters
    ----------
    in_features, out_features : int
        D and M. ``W`` has shape (D, M * k) and ``b`` shape (M * k,).
    rng : numpy.random.Generator
    num_pieces : int
        k, the number of affine pieces per unit (2 doubles the parameters).
    """

    penalised = ("W",)

    def __init__(self, in_features, out_features, rng, num_pieces=2, init="he_normal"):
        super().__init__()
        _checks.positive(num_pieces, "num_pieces", integer=True)
        self.num_pieces = num_pieces
        self.out_features = out_features
        self._dense = Dense(in_features, out_features * num_pieces, rng, init)
        self.params, self.grads = self._dense.params, self._dense.grads

    def forward(self, x, training=False):
        """x: (N, D) -> out: (N, M)."""
        z = self._dense.forward(x).reshape(x.shape[0], self.out_features, self.num_pieces)
        self._winner = np.argmax(z, axis=2)[..., None]  # (N, M, 1)
        return np.take_along_axis(z, self._winner, axis=2)[..., 0]

    def backward(self, dout):
        """dout: (N, M) -> dx: (N, D); the gradient flows only to each unit's winning piece."""
        self._check_upstream(dout, self._winner.shape[:2])
        dz = np.zeros(dout.shape + (self.num_pieces,))
        np.put_along_axis(dz, self._winner, dout[..., None], axis=2)
        return self._dense.backward(dz.reshape(dout.shape[0], -1))
