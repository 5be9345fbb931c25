"""Gradient-descent optimizers (SGD in chapter 5, the others in the optimization chapter).

``step(parameters)`` takes the (parameter, gradient) pairs that
``Sequential.parameters()`` returns and updates each parameter in place. A
stateful optimizer keeps its running averages per parameter, looked up by the
parameter array's identity, so neither the order of the list nor which
parameters one call passes can mix the state of two parameters.
"""
import numbers

import numpy as np

from . import _checks


class SGD:
    """Plain gradient descent: w <- w - lr * dw."""

    def __init__(self, lr=0.01):
        self.lr = _checks.positive(lr, "lr")

    def step(self, parameters):
        for param, grad in parameters:
            param -= self.lr * grad


def _fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


class Optimizer:
    """Base class of the stateful optimizers: a learning rate ``lr`` and per-parameter state."""

    def __init__(self, lr):
        self.lr = _checks.positive(lr, "lr")
        self._state = {}

    def state(self, param, grad, *names):
        """The state of ``param``: a dict with a zero array per name and a step count ``t``.

        Created on the parameter's first step and found again by ``id(param)``;
        the array is kept beside its state, so its id cannot pass to another array.
        """
        if np.shape(grad) != np.shape(param):
            raise ValueError(f"parameters: a gradient of shape {np.shape(grad)} came with a parameter "
                             f"of shape {np.shape(param)}; expected (parameter, gradient) pairs of equal shapes")
        if id(param) not in self._state:
            self._state[id(param)] = (param, {"t": 0, **{name: np.zeros_like(param) for name in names}})
        return self._state[id(param)][1]

    def state_of(self, param):
        """The state this optimizer keeps for ``param`` (e.g. Adam's ``m``, ``v`` and ``t``).

        Raises KeyError when ``param`` has never been stepped by this optimizer.
        """
        if id(param) not in self._state or self._state[id(param)][0] is not param:
            raise KeyError(f"param: this {type(self).__name__} has no state for an array of shape "
                           f"{np.shape(param)}; expected a parameter it has stepped")
        return self._state[id(param)][1]


class Momentum(Optimizer):
    """Gradient descent with momentum: heavy ball (Polyak, 1964) or Nesterov.

    v <- momentum * v - lr * dw, then w <- w + v (heavy ball), or
    w <- w + momentum * v - lr * dw (Nesterov, Sutskever et al., 2013, rearranged so that
    the stored weights are the look-ahead point and the gradient is taken at them).
    With a constant ``lr`` this is ``torch.optim.SGD(momentum=..., nesterov=...)``,
    whose buffer is v / -lr.
    """

    def __init__(self, lr=0.01, momentum=0.9, nesterov=False):
        super().__init__(lr)
        self.momentum = _fraction(momentum, "momentum")
        self.nesterov = bool(nesterov)

    def step(self, parameters):
        for param, grad in parameters:
            velocity = self.state(param, grad, "velocity")["velocity"]
            velocity *= self.momentum
            velocity -= self.lr * grad
            if self.nesterov:
                param += self.momentum * velocity - self.lr * grad
            else:
                param += velocity


class RMSProp(Optimizer):
    """RMSProp (Hinton's lecture 6e, 2012): each weight's step divided by its recent gradient size.

    s <- rho * s + (1 - rho) * dw^2;  w <- w - lr * dw / (sqrt(s) + eps).
    ``torch.optim.RMSprop`` calls rho ``alpha``.
    """

    def __init__(self, lr=0.001, rho=0.9, eps=1e-8):
        super().__init__(lr)
        self.rho, self.eps = _fraction(rho, "rho"), _checks.positive(eps, "eps")

    def step(self, parameters):
        for param, grad in parameters:
            mean_square = self.state(param, grad, "mean_square")["mean_square"]
            mean_square *= self.rho
            mean_square += (1 - self.rho) * grad * grad
            param -= self.lr * grad / (np.sqrt(mean_square) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter steps from running moments of the gradient.

    m <- b1 m + (1 - b1) dw;  v <- b2 v + (1 - b2) dw^2;
    w <- w - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t),
    v_hat = v / (1 - b2^t) at the parameter's t-th step. ``bias_correction=False``
    uses m and v as they are (the optimization chapter shows why that is worse).
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True):
        super().__init__(lr)
        self.beta1, self.beta2 = _fraction(beta1, "beta1"), _fraction(beta2, "beta2")
        self.eps, self.bias_correction = _checks.positive(eps, "eps"), bool(bias_correction)

    def step(self, parameters):
        for param, grad in parameters:
            state = self.state(param, grad, "m", "v")
            state["t"] += 1
            m, v, t = state["m"], state["v"], state["t"]
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * grad * grad
            if self.bias_correction:
                param -= self.lr * (m / (1 - self.beta1**t)) / (np.sqrt(v / (1 - self.beta2**t)) + self.eps)
            else:
                param -= self.lr * m / (np.sqrt(v) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Each step first shrinks the decayed weights, w <- (1 - lr * weight_decay) w,
    then takes the Adam step on the gradient it was given. An L2 penalty instead
    adds l2 * w to that gradient, where Adam's division by sqrt(v_hat) rescales it.

    decay : list of (parameter, gradient) pairs, optional
        The parameters to decay, e.g. ``model.penalised()`` (weights, not
        biases); None decays every parameter passed to ``step``.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decay=None):
        super().__init__(lr, beta1, beta2, eps)
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not weight_decay >= 0:
            raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self._decayed = None if decay is None else {id(param): param for param, _ in decay}

    def step(self, parameters):
        for param, _ in parameters:
            if self._decayed is None or id(param) in self._decayed:
                param *= 1 - self.lr * self.weight_decay
        super().step(parameters)


class Scheduled:
    """An optimizer whose learning rate follows a schedule (``nnlib.schedules``).

    Before step t = 0, 1, 2, ... it sets ``optimizer.lr = base_lr * schedule(t)``,
    where base_lr is the optimizer's ``lr`` when wrapped (as torch's schedulers do).
    """

    def __init__(self, optimizer, schedule):
        if not callable(getattr(optimizer, "step", None)) or not callable(schedule):
            raise TypeError(f"Scheduled needs an optimizer with step(parameters) and a schedule function, "
                            f"got {type(optimizer).__name__} and {type(schedule).__name__}")
        self.optimizer, self.schedule = optimizer, schedule
        self.base_lr, self.t = optimizer.lr, 0

    def step(self, parameters):
        self.optimizer.lr = self.base_lr * self.schedule(self.t)
        self.optimizer.step(parameters)
        self.t += 1


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW}


def get_optimizer(name, **params):
    """Return a new optimizer called ``name`` (an optimizer object passes through)."""
    if not isinstance(name, str):
        return name
    return OPTIMIZERS[_checks.choice(name, "optimizer", OPTIMIZERS)](**params)
