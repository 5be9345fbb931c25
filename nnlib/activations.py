"""Activation functions, each with its value and derivative side by side (chapter 2).

Every activation is an object with ``value(z)`` and ``derivative(z)``; both take
an array ``z`` of pre-activations of any shape and return an array of the same
shape. ``softmax`` works along an axis and has its own backward rule.
"""
import numpy as np

from . import _checks


class Activation:
    """Base class: ``value(z)`` is f(z), ``derivative(z)`` is f'(z), elementwise."""

    name = "activation"

    def value(self, z):
        raise NotImplementedError

    def derivative(self, z):
        raise NotImplementedError

    def __call__(self, z):
        return self.value(z)

    def __repr__(self):
        params = ", ".join(f"{key}={val!r}" for key, val in vars(self).items())
        return f"{type(self).__name__}({params})"


class Identity(Activation):
    """f(z) = z; the output unit of a regression network (chapter 4)."""

    name = "identity"

    def value(self, z):
        return z

    def derivative(self, z):
        return np.ones_like(z, dtype=np.float64)


class Step(Activation):
    """Heaviside step, f(z) = 1 if z >= 0 else 0: the perceptron's activation (chapter 1).

    Its derivative is 0 everywhere it exists, which is why gradient descent
    cannot train it.
    """

    name = "step"

    def value(self, z):
        return (np.asarray(z) >= 0).astype(np.float64)

    def derivative(self, z):
        return np.zeros_like(z, dtype=np.float64)


def _sigmoid(z):
    """1 / (1 + exp(-z)), accurate to a few ulps in both tails and never overflowing.

    With e = exp(-|z|) in (0, 1], the positive branch is 1 / (1 + e) and the negative
    one e / (1 + e): no exponential can overflow, and for very negative z the result
    keeps its relative accuracy down to the smallest floats (1 + tanh(z/2) would
    cancel to 0 near z = -37).
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class Sigmoid(Activation):
    """f(z) = 1 / (1 + exp(-z)) (chapter 2); f'(z) = f(z) (1 - f(z)), at most 1/4.

    The derivative is computed as f(z) f(-z), the same number, because 1 - f(z)
    cancels to 0 for large z while f(-z) stays accurate.
    """

    name = "sigmoid"

    def value(self, z):
        return _sigmoid(z)

    def derivative(self, z):
        return _sigmoid(z) * _sigmoid(-np.asarray(z, dtype=np.float64))


class Tanh(Activation):
    """f(z) = tanh(z) = 2 sigmoid(2z) - 1; f'(z) = 1 - tanh(z)^2 (chapter 2)."""

    name = "tanh"

    def value(self, z):
        return np.tanh(z)

    def derivative(self, z):
        return 1.0 - np.tanh(z) ** 2


class ReLU(Activation):
    """f(z) = max(0, z); f'(z) = 1 for z > 0, else 0 (chapter 2)."""

    name = "relu"

    def value(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z):
        return (np.asarray(z) > 0).astype(np.float64)


class LeakyReLU(Activation):
    """f(z) = z for z > 0, else ``slope`` * z (chapter 2).

    A fixed ``slope`` of about 0.01 is leaky ReLU; any other fixed value is the
    generalized ReLU; learning it is PReLU (``nnlib.layers.PReLU``).
    """

    name = "leaky_relu"

    def __init__(self, slope=0.01):
        if not np.isfinite(slope) or slope < 0:
            raise ValueError(f"slope must be a finite number >= 0, got {slope!r}")
        self.slope = float(slope)

    def value(self, z):
        return np.where(z > 0, z, self.slope * z)

    def derivative(self, z):
        return np.where(z > 0, 1.0, self.slope)


class ELU(Activation):
    """f(z) = z for z > 0, else ``alpha`` (exp(z) - 1) (chapter 2).

    Smooth at 0 when alpha = 1; negative outputs push the mean activation
    towards zero.
    """

    name = "elu"

    def __init__(self, alpha=1.0):
        _checks.positive(alpha, "alpha")
        self.alpha = float(alpha)

    def value(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0.0)))

    def derivative(self, z):
        return np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0.0)))


class Softplus(Activation):
    """f(z) = log(1 + exp(z)), a smooth ReLU; f'(z) = sigmoid(z) (chapter 2)."""

    name = "softplus"

    def value(self, z):
        return np.logaddexp(0.0, z)

    def derivative(self, z):
        return _sigmoid(z)


class Swish(Activation):
    """f(z) = z sigmoid(beta z) (Ramachandran et al., 2017) (chapter 2).

    f'(z) = s + beta z s (1 - s) with s = sigmoid(beta z).
    """

    name = "swish"

    def __init__(self, beta=1.0):
        _checks.positive(beta, "beta")
        self.beta = float(beta)

    def value(self, z):
        return z * _sigmoid(self.beta * z)

    def derivative(self, z):
        # s (1 + beta z (1 - s)), with 1 - s written as sigmoid(-beta z) so it stays
        # accurate where s is close to 1.
        bz = self.beta * np.asarray(z, dtype=np.float64)
        return _sigmoid(bz) * (1.0 + bz * _sigmoid(-bz))


ACTIVATIONS = {
    cls.name: cls
    for cls in (Identity, Step, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Swish)
}


def get_activation(name, **params):
    """Return the activation called ``name`` (an ``Activation`` passes through).

    ``params`` go to its constructor, e.g. ``get_activation("elu", alpha=0.5)``.
    Raises ``ValueError`` listing the valid names for an unknown one.
    """
    if isinstance(name, Activation):
        return name
    _checks.choice(name, "activation", ACTIVATIONS)
    return ACTIVATIONS[name](**params)


def softmax(z, axis=-1):
    """Softmax along ``axis``, stable for any finite scores (chapters 2 and 4).

    Subtracting the row maximum leaves the result unchanged (it cancels between
    numerator and denominator) and keeps every ``exp`` at most 1.

    Parameters
    ----------
    z : array, shape (N, C)
        Scores (logits) of C classes.

    Returns
    -------
    array, shape (N, C)
        Probabilities; each row sums to 1.
    """
    shifted = z - np.max(z, axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """log(softmax(z)) through log-sum-exp, finite even for scores of 1e4 (chapter 4)."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_backward(dout, probs, axis=-1):
    """Gradient through softmax: given dJ/dp and p = softmax(z), return dJ/dz.

    Uses the Jacobian-vector product p * (dout - sum(dout * p)), never the full
    C x C Jacobian.
    """
    return probs * (dout - np.sum(dout * probs, axis=axis, keepdims=True))
