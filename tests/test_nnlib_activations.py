"""Activations: derivatives agree with centred differences; identities and stability hold."""
import numpy as np
import pytest

from nnlib import activations
from nnlib.gradcheck import numerical_gradient, relative_error

DIFFERENTIABLE = [
    activations.Identity(), activations.Sigmoid(), activations.Tanh(), activations.ReLU(),
    activations.LeakyReLU(0.01), activations.LeakyReLU(0.3), activations.ELU(1.0),
    activations.ELU(0.5), activations.Softplus(), activations.Swish(), activations.Swish(2.0),
]


@pytest.mark.parametrize("activation", DIFFERENTIABLE, ids=repr)
def test_derivative_matches_centred_differences(activation, rng, away_from_kinks):
    z = away_from_kinks(rng, (5, 7)) * 1.5  # saturated tails have derivatives near 0: pure roundoff
    h = 1e-5  # elementwise functions: one centred difference per entry, all at once
    numeric = (activation.value(z + h) - activation.value(z - h)) / (2 * h)
    assert relative_error(activation.derivative(z), numeric) < 1e-7


def test_step_is_zero_one_with_zero_derivative():
    z = np.array([-2.0, -1e-9, 0.0, 3.0])
    assert np.array_equal(activations.Step().value(z), [0, 0, 1, 1])
    assert np.array_equal(activations.Step().derivative(z), np.zeros(4))


def test_tanh_is_a_rescaled_sigmoid(rng):
    z = rng.standard_normal((4, 6)) * 4
    np.testing.assert_allclose(np.tanh(z), 2 * activations.Sigmoid().value(2 * z) - 1, atol=1e-14)


def test_sigmoid_and_softplus_do_not_overflow():
    z = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.array_equal(activations.Sigmoid().value(z), [0.0, 1.0])
        np.testing.assert_allclose(activations.Softplus().value(z), [0.0, 1000.0])


def test_softmax_rows_are_distributions_even_for_huge_scores(rng):
    scores = rng.standard_normal((6, 4)) * 1e4
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs = activations.softmax(scores)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.all(probs >= 0)
    assert np.all(np.isfinite(activations.log_softmax(scores)))


def test_softmax_is_shift_invariant(rng):
    scores = rng.standard_normal((3, 5))
    np.testing.assert_allclose(activations.softmax(scores), activations.softmax(scores + 123.0))


def test_softmax_backward_matches_centred_differences(rng):
    scores, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    numeric = numerical_gradient(lambda z: np.sum(activations.softmax(z) * dout), scores.copy())
    analytic = activations.softmax_backward(dout, activations.softmax(scores))
    assert relative_error(analytic, numeric) < 1e-7


def test_get_activation_builds_with_parameters():
    assert activations.get_activation("elu", alpha=0.5).alpha == 0.5
    relu = activations.ReLU()
    assert activations.get_activation(relu) is relu


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown activation 'relu6'; valid: .*'relu'.*'tanh'"):
        activations.get_activation("relu6")


@pytest.mark.parametrize("make", [lambda: activations.LeakyReLU(-0.1), lambda: activations.ELU(0.0)])
def test_bad_activation_parameters_are_refused(make):
    with pytest.raises(ValueError, match="slope|alpha"):
        make()


@pytest.mark.parametrize("activation", DIFFERENTIABLE + [activations.Step()], ids=repr)
def test_scalars_work_like_arrays(activation):
    for z in (-3.0, 2.0):
        assert float(activation.value(z)) == pytest.approx(float(activation.value(np.array([z]))[0]))
        assert float(activation.derivative(z)) == pytest.approx(float(activation.derivative(np.array([z]))[0]))
