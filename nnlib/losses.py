"""Loss functions: each returns ``(value, gradient with respect to the prediction)``.

Symbols as in book/notation.md: N examples, M outputs (the output layer's width),
C classes; J is the cost. The value is the cost, the average of the per-example losses over the batch of
N examples, so every gradient carries the factor 1/N (chapter 4). Shapes are
checked on every call; values are not (NaN in, NaN out), so the training loop,
which checks its data once and the loss after every step, pays nothing extra.
"""
import numpy as np

from . import _checks
from .activations import Sigmoid, log_softmax, softmax


def _pair(y_hat, y, name_hat="y_hat", name_y="y"):
    y_hat = _checks.as_array(y_hat, name_hat, ndim=(1, 2), finite=False)
    y = _checks.as_array(y, name_y, ndim=(1, 2), finite=False)
    _checks.same_shape(y_hat, y, name_hat, name_y)
    return y_hat, y


def mse(y_hat, y):
    """Mean squared error, the regression loss (Gaussian likelihood).

    J = mean over all entries of (y_hat - y)^2;  dJ/dy_hat = 2 (y_hat - y) / (N M).

    Parameters
    ----------
    y_hat, y : arrays, shape (N,) or (N, M)
        Predictions and targets of the same shape.
    """
    y_hat, y = _pair(y_hat, y)
    diff = y_hat - y
    return float(np.vdot(diff, diff)) / diff.size, 2.0 * diff / diff.size


def binary_cross_entropy(probs, y, eps=1e-12):
    """Binary cross-entropy from probabilities (Bernoulli likelihood, sigmoid output).

    J = -mean(y log q + (1 - y) log(1 - q)) with q = clip(p, eps, 1 - eps), so that
    p = 0 or 1 gives a finite cost. The gradient is that of the clipped function:
    dJ/dp = (q - y) / (q (1 - q)) / N where eps <= p <= 1 - eps, and 0 where the clip
    is active, since q, and with it J, does not change there (chapter 4). Prefer
    ``binary_cross_entropy_with_logits``, which needs no clip.

    Parameters
    ----------
    probs, y : arrays, shape (N,) or (N, 1)
        Predicted probabilities p in [0, 1] and labels in {0, 1}.
    eps : float
        The clip, in (0, 0.5).
    """
    probs, y = _pair(probs, y, "probs", "y")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps!r}")
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("probs must lie in [0, 1]; pass logits to binary_cross_entropy_with_logits")
    q = np.clip(probs, eps, 1.0 - eps)
    value = -np.mean(y * np.log(q) + (1.0 - y) * np.log1p(-q))
    inside = (probs >= eps) & (probs <= 1.0 - eps)
    return float(value), np.where(inside, (q - y) / (q * (1.0 - q)), 0.0) / q.size


def binary_cross_entropy_with_logits(logits, y):
    """Binary cross-entropy from logits z, stable for any finite z (chapter 4).

    Uses log(1 + exp(-|z|)) + max(z, 0) - z y, which never overflows.
    dJ/dz = (sigmoid(z) - y) / N: the error itself, with no saturation. It is
    computed as ((1 - y) sigmoid(z) - y sigmoid(-z)) / N, the same number, so that it
    keeps its relative accuracy in both tails (sigmoid(z) - 1 would cancel to 0).

    Parameters
    ----------
    logits, y : arrays, shape (N,) or (N, 1)
        Raw scores z and labels in {0, 1}.
    """
    z, y = _pair(logits, y, "logits", "y")
    value = np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return float(value), ((1.0 - y) * Sigmoid().value(z) - y * Sigmoid().value(-z)) / z.size


def softmax_cross_entropy(scores, y):
    """Softmax followed by cross-entropy, from scores (categorical likelihood).

    J = -mean_n log softmax(scores_n)[y_n], through log-sum-exp so it stays
    finite for huge scores. dJ/dscores = (softmax(scores) - onehot(y)) / N.

    Parameters
    ----------
    scores : array, shape (N, C)
        Class scores (logits).
    y : array, shape (N,) of integer labels in [0, C), or shape (N, C) one-hot.
    """
    scores = _checks.as_array(scores, "scores", ndim=2, finite=False)
    num_examples, num_classes = scores.shape
    y = np.asarray(y)
    if y.ndim == 1:
        if y.shape[0] != num_examples or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"y must be integer labels of shape ({num_examples},) or one-hot of shape "
                f"{scores.shape}, got dtype {y.dtype} and shape {y.shape}"
            )
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"labels in y must lie in [0, {num_classes}), got {y.min()}..{y.max()}")
        onehot = np.zeros_like(scores)
        onehot[np.arange(num_examples), y] = 1.0
    else:
        onehot = _checks.as_array(y, "y", ndim=2, finite=False)
        _checks.same_shape(onehot, scores, "y", "scores")
    value = -np.sum(onehot * log_softmax(scores)) / num_examples
    return float(value), (softmax(scores) - onehot) / num_examples


def hinge(scores, y):
    """Binary hinge loss on raw scores; with an L2 penalty on the weights, a linear SVM (chapter 1).

    J = mean(max(0, 1 - y s)); dJ/ds = -y [y s < 1] / N.

    Parameters
    ----------
    scores, y : arrays, shape (N,) or (N, 1)
        Raw scores s and labels in {-1, +1}.
    """
    s, y = _pair(scores, y, "scores", "y")
    if not np.all(np.abs(y) == 1):
        raise ValueError("hinge needs labels y in {-1, +1}; map 0/1 labels with 2 * y - 1")
    margin = 1.0 - y * s
    return float(np.mean(np.maximum(margin, 0.0))), -y * (margin > 0) / s.size


LOSSES = {
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "softmax_cross_entropy": softmax_cross_entropy,
    "hinge": hinge,
}


def get_loss(name):
    """Return the loss function called ``name`` (a callable passes through)."""
    if callable(name):
        return name
    return LOSSES[_checks.choice(name, "loss", LOSSES)]
