"""Layers: backward agrees with centred differences for every layer and parameter."""
import numpy as np
import pytest

from nnlib import gradcheck, layers
from nnlib.activations import ACTIVATIONS

SMOOTH_OR_KINKED = sorted(set(ACTIVATIONS) - {"step"})


def _check(layer, x, rng):
    errors = gradcheck.check_layer(layer, x, rng)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < 1e-7, errors


def test_dense_gradients(rng):
    _check(layers.Dense(5, 3, rng), rng.standard_normal((7, 5)), rng)


def test_dense_forward_is_affine(rng):
    layer = layers.Dense(4, 2, rng)
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["W"] + layer.params["b"])


@pytest.mark.parametrize("name", SMOOTH_OR_KINKED)
def test_activation_layer_gradients(name, rng, away_from_kinks):
    _check(layers.ActivationLayer(name), away_from_kinks(rng, (6, 4)), rng)


def test_prelu_gradients_including_slope(rng, away_from_kinks):
    _check(layers.PReLU(4, init_slope=0.2), away_from_kinks(rng, (6, 4)), rng)


def test_maxout_gradients_and_parameter_cost(rng):
    layer = layers.Maxout(3, 5, rng, num_pieces=2)
    _check(layer, rng.standard_normal((8, 3)), rng)
    assert sum(p.size for p in layer.params.values()) == 2 * (3 * 5 + 5)


def test_dropout_gradient_uses_the_forward_mask(rng):
    layer = layers.Dropout(0.4, rng)
    x = rng.standard_normal((6, 5))
    out = layer.forward(x, training=True)
    dout = rng.standard_normal(x.shape)
    kept = out != 0
    np.testing.assert_allclose(layer.backward(dout), np.where(kept, dout / 0.6, 0.0))


def test_dropout_preserves_the_expectation():
    layer = layers.Dropout(0.3, np.random.default_rng(0))
    x = np.full((2000, 50), 2.0)
    out = layer.forward(x, training=True)
    assert abs(out.mean() - 2.0) < 0.02  # 100,000 draws: standard error about 0.004
    assert abs(np.mean(out == 0) - 0.3) < 0.01


def test_dropout_is_identity_at_test_time(rng):
    layer = layers.Dropout(0.5, rng)
    x = rng.standard_normal((3, 4))
    assert layer.forward(x, training=False) is x
    assert layer.backward(x) is x


def test_dropout_masks_are_reproducible_from_the_seed():
    x = np.ones((4, 6))
    first = layers.Dropout(0.5, np.random.default_rng(7)).forward(x, training=True)
    second = layers.Dropout(0.5, np.random.default_rng(7)).forward(x, training=True)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("drop_prob", [-0.1, 1.0, 1.5, "0.5", True])
def test_dropout_rejects_probabilities_outside_zero_one(drop_prob):
    with pytest.raises(ValueError, match=r"drop_prob must be in \[0, 1\)"):
        layers.Dropout(drop_prob, np.random.default_rng(0))


def test_dropout_needs_a_generator():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        layers.Dropout(0.5, 42)


def test_dense_names_the_input_shape_it_expected(rng):
    with pytest.raises(ValueError, match=r"Dense expects x of shape \(N, 5\), got \(7, 4\)"):
        layers.Dense(5, 3, rng).forward(np.zeros((7, 4)))


def test_dense_backward_names_a_wrong_upstream_shape(rng):
    layer = layers.Dense(5, 3, rng)
    layer.forward(np.zeros((7, 5)))
    with pytest.raises(ValueError, match=r"dout has shape \(3, 7\), expected .* \(7, 3\)"):
        layer.backward(np.zeros((3, 7)))


@pytest.mark.parametrize("size", [0, -3, 2.5])
def test_dense_rejects_non_positive_sizes(size, rng):
    with pytest.raises(ValueError, match="out_features must be a positive integer"):
        layers.Dense(3, size, rng)


def test_gradcheck_catches_a_wrong_backward(rng):
    class DoubledBiasDense(layers.Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] *= 2  # a deliberately wrong bias gradient
            return dx

    errors = gradcheck.check_layer(DoubledBiasDense(4, 3, rng), rng.standard_normal((5, 4)), rng)
    assert errors["b"] > 0.1 and errors["W"] < 1e-7
