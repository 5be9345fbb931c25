"""Optimizers: two steps each, compared with values worked out by hand."""
import numpy as np
import pytest

from nnlib import optim


def _run(optimizer, gradients):
    param = np.array([1.0, -2.0])
    grad = np.zeros(2)
    for step_grad in gradients:
        grad[:] = step_grad
        optimizer.step([(param, grad)])
    return param


def test_sgd_step():
    np.testing.assert_allclose(_run(optim.SGD(lr=0.1), [[0.5, 0.25]]), [0.95, -2.025])


def test_momentum_two_steps():
    # v1 = -0.1 g = [-0.05, -0.025]; v2 = 0.9 v1 - 0.1 g = [-0.095, -0.0475]
    param = _run(optim.Momentum(lr=0.1, momentum=0.9), [[0.5, 0.25]] * 2)
    np.testing.assert_allclose(param, [1 - 0.05 - 0.095, -2 - 0.025 - 0.0475])


def test_adam_two_steps():
    # Step 1: m_hat = g and v_hat = g^2, so each weight moves by lr * sign(g).
    # Step 2, first weight (g flips to -0.5): m = 0.9 * 0.05 - 0.05 = -0.005, m_hat = -0.005 / 0.19;
    # v = 0.999 * 0.00025 + 0.001 * 0.25, v_hat = 0.25, so it moves by +0.1 * (0.005 / 0.19) / 0.5.
    param = _run(optim.Adam(lr=0.1), [[0.5, 0.25], [-0.5, 0.25]])
    np.testing.assert_allclose(param, [0.9 + 0.1 * (0.005 / 0.19) / 0.5, -2.2], rtol=1e-6)


@pytest.mark.parametrize("make", [optim.SGD, optim.Momentum, optim.Adam])
@pytest.mark.parametrize("lr", [0, -0.1, float("nan")])
def test_learning_rate_must_be_positive(make, lr):
    with pytest.raises(ValueError, match=f"lr must be a positive number, got {lr!r}"):
        make(lr=lr)


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; valid: 'adam', 'momentum', 'sgd'"):
        optim.get_optimizer("rmsprop", lr=0.1)
