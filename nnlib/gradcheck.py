"""Numerical gradient checking with centred differences (the gradient-checking chapter, after chapter 5).

df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h), error O(h^2). In float64 with
h = 1e-5 a correct analytic gradient agrees to a relative error of about 1e-7
or better; 1e-4 is suspicious unless a kink (ReLU at 0) lies within h; 1e-2
means a bug.
"""
import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function ``f`` at ``x``.

    ``x`` (float64, any shape) is perturbed in place one entry at a time and
    restored. Returns an array shaped like ``x``.
    """
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f(x)
        x[index] = original - h
        f_minus = f(x)
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_upstream(f, x, dout, h=1e-5):
    """Gradient of sum(f(x) * dout) at ``x``: checks a layer without a scalar loss.

    ``f`` maps ``x`` to an array shaped like ``dout``; the result is the
    vector-Jacobian product a correct ``backward(dout)`` must return.
    """
    return numerical_gradient(lambda value: np.sum(f(value) * dout), x, h)


def relative_error(analytic, numeric):
    """Largest entrywise |a - n| / max(|a| + |n|, 1e-12): scale-free, 0 for a perfect match."""
    analytic, numeric = np.asarray(analytic, float), np.asarray(numeric, float)
    if analytic.shape != numeric.shape:
        raise ValueError(f"analytic {analytic.shape} and numeric {numeric.shape} shapes differ")
    denominator = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
    return float(np.max(np.abs(analytic - numeric) / denominator, initial=0.0))


def worst_entry(analytic, numeric):
    """Where two gradients disagree most: dict with index, both values and relative error."""
    analytic, numeric = np.asarray(analytic, float), np.asarray(numeric, float)
    errors = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
    index = np.unravel_index(np.argmax(errors), errors.shape)
    return {
        "index": tuple(int(i) for i in index),
        "analytic": float(analytic[index]),
        "numeric": float(numeric[index]),
        "relative_error": float(errors[index]),
    }


def check_layer(layer, x, rng, h=1e-5):
    """Compare a layer's backward with numerical gradients for a random upstream gradient.

    Parameters
    ----------
    layer : nnlib Layer
        Evaluated with ``training=False`` (dropout: fix the mask yourself).
    x : array, shape (N, D)
    rng : numpy.random.Generator
        Draws the upstream gradient ``dout``.

    Returns
    -------
    dict name -> relative error, for "x" and every parameter.
    """
    x = np.array(x, dtype=np.float64)
    dout = rng.standard_normal(layer.forward(x).shape)
    layer.forward(x)
    analytic = {"x": layer.backward(dout)}
    analytic.update({name: grad.copy() for name, grad in layer.grads.items()})
    errors = {"x": relative_error(analytic["x"], numerical_gradient_upstream(layer.forward, x, dout, h))}
    for name, param in layer.params.items():
        numeric = numerical_gradient_upstream(lambda _: layer.forward(x), param, dout, h)
        errors[name] = relative_error(analytic[name], numeric)
    return errors
