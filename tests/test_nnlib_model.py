"""Sequential and mlp: parameter counts, whole-model gradients, penalties, bad input."""
import numpy as np
import pytest

import nnlib
from nnlib import gradcheck, losses


def test_counts_of_the_two_textbook_networks():
    for sizes, neurons, weights, biases, total in [([3, 4, 2], 6, 20, 6, 26), ([3, 4, 4, 1], 9, 32, 9, 41)]:
        counts = nnlib.count_parameters(sizes)
        assert counts == {"neurons": neurons, "weights": weights, "biases": biases, "parameters": total}
        assert nnlib.mlp(sizes, rng=np.random.default_rng(0)).num_parameters() == total


def test_maxout_network_doubles_the_hidden_parameters():
    dense = nnlib.mlp([2, 8, 1], "relu", rng=np.random.default_rng(0)).num_parameters()
    maxout = nnlib.mlp([2, 8, 1], "maxout", rng=np.random.default_rng(0)).num_parameters()
    assert maxout - dense == 2 * 8 + 8


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "swish", "maxout"])
@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.0, 0.3), (0.05, 0.0)])
def test_whole_network_gradients_with_penalties(activation, l1, l2, rng):
    model = nnlib.mlp([3, 5, 4, 2], activation, rng=rng, l1=l1, l2=l2)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)

    def cost():
        return losses.softmax_cross_entropy(model.forward(x), y)[0] + model.penalty()

    _, dscores = losses.softmax_cross_entropy(model.forward(x), y)
    model.backward(dscores)
    for param, grad in model.parameters():
        numeric = gradcheck.numerical_gradient(lambda _: cost(), param)
        assert gradcheck.relative_error(grad, numeric) < 1e-6


def test_penalty_by_hand():
    model = nnlib.Sequential([nnlib.Dense(2, 1, np.random.default_rng(0), init="constant")], l1=0.5, l2=2.0)
    model.layers[0].params["W"][:] = [[1.0], [-2.0]]
    model.layers[0].params["b"][:] = 100.0  # biases are never penalised
    assert model.penalty() == pytest.approx(0.5 * 3 + 0.5 * 2.0 * 5)


def test_predict_turns_dropout_off():
    model = nnlib.mlp([2, 50, 1], rng=np.random.default_rng(0), drop_prob=0.5)
    x = np.random.default_rng(1).standard_normal((4, 2))
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    assert not np.allclose(model.forward(x, training=True), model.predict(x))


def test_same_seed_same_network():
    first = nnlib.mlp([1, 8, 1], rng=np.random.default_rng(3))
    second = nnlib.mlp([1, 8, 1], rng=np.random.default_rng(3))
    for (a, _), (b, _) in zip(first.parameters(), second.parameters()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sizes, message", [
    ([3], "at least an input and an output"),
    ([3, 0, 1], r"layer_sizes\[1\] must be a positive integer, got 0"),
    ([3, -4, 1], r"layer_sizes\[1\] must be a positive integer, got -4"),
    ([3, 2.5, 1], r"layer_sizes\[1\] must be a positive integer, got 2.5"),
])
def test_bad_layer_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        nnlib.mlp(sizes, rng=np.random.default_rng(0))


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'gelu'; valid: .*'maxout'.*'relu'"):
        nnlib.mlp([1, 4, 1], "gelu", rng=np.random.default_rng(0))


def test_negative_penalty_refused():
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got -1"):
        nnlib.mlp([1, 4, 1], rng=np.random.default_rng(0), l2=-1)


def test_predict_refuses_non_finite_input():
    model = nnlib.mlp([2, 3, 1], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="x must be finite, got 1 NaN"):
        model.predict(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"x must be a 2-D array, got shape \(2,\)"):
        model.predict(np.zeros(2))


def test_repr_lists_layers_and_parameter_count():
    text = repr(nnlib.mlp([3, 4, 2], rng=np.random.default_rng(0)))
    assert "Dense(3 -> 4)" in text and "ReLU()" in text and "26 parameters" in text


def test_spread_hinges_places_each_kink_where_it_says():
    model = nnlib.mlp([1, 6, 1], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(nnlib.hinge_positions(model), np.zeros(6))  # zero biases: all at 0
    nnlib.spread_hinges(model, np.random.default_rng(1), low=-2.0, high=3.0)
    positions = nnlib.hinge_positions(model)
    np.testing.assert_allclose(positions, np.random.default_rng(1).uniform(-2.0, 3.0, 6))
    first = model.layers[0]
    z_at_kinks = positions[:, None] * first.params["W"] + first.params["b"]
    np.testing.assert_allclose(np.diag(z_at_kinks), 0.0, atol=1e-12)


def test_hinges_need_a_one_input_dense_first_layer():
    with pytest.raises(ValueError, match="first layer is Dense with 1 input"):
        nnlib.hinge_positions(nnlib.mlp([2, 3, 1], rng=np.random.default_rng(0)))
