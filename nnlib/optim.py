"""Gradient-descent optimizers (chapter 5). Each updates parameters in place.

``step(parameters)`` takes the list of (parameter, gradient) pairs that
``Sequential.parameters()`` returns; stateful optimizers keep one state array
per parameter, in the same order, created on the first step.
"""
import numpy as np

from . import _checks


class SGD:
    """Plain gradient descent: w <- w - lr * dw."""

    def __init__(self, lr=0.01):
        self.lr = _checks.positive(lr, "lr")

    def step(self, parameters):
        for param, grad in parameters:
            param -= self.lr * grad


class Momentum:
    """Gradient descent with momentum: v <- momentum * v - lr * dw;  w <- w + v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = _checks.positive(lr, "lr")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self._velocity = None

    def step(self, parameters):
        if self._velocity is None:
            self._velocity = [np.zeros_like(param) for param, _ in parameters]
        for (param, grad), velocity in zip(parameters, self._velocity):
            velocity *= self.momentum
            velocity -= self.lr * grad
            param += velocity


class Adam:
    """Adam (Kingma & Ba, 2015): per-parameter steps from running moments of the gradient.

    m <- b1 m + (1 - b1) dw;  v <- b2 v + (1 - b2) dw^2;
    w <- w - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t),
    v_hat = v / (1 - b2^t).
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = _checks.positive(lr, "lr")
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        self.beta1, self.beta2, self.eps = beta1, beta2, _checks.positive(eps, "eps")
        self.t = 0
        self._moments = None

    def step(self, parameters):
        if self._moments is None:
            self._moments = [(np.zeros_like(p), np.zeros_like(p)) for p, _ in parameters]
        self.t += 1
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for (param, grad), (m, v) in zip(parameters, self._moments):
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * grad * grad
            param -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def get_optimizer(name, **params):
    """Return a new optimizer called ``name`` (an optimizer object passes through)."""
    if not isinstance(name, str):
        return name
    return OPTIMIZERS[_checks.choice(name, "optimizer", OPTIMIZERS)](**params)
