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


# Exact references for the sigmoid family's tails, computed in 60-digit decimal arithmetic.
TAIL_POINTS = [-700.0, -40.0, -20.0, 20.0, 40.0, 700.0]


def _exact_sigmoid(z):
    import decimal

    with decimal.localcontext() as context:
        context.prec = 60
        return 1 / (1 + (-decimal.Decimal(z)).exp())


def _exact(formula, z):
    """``formula(s, s_minus, z)`` with exact s = sigmoid(z), s_minus = sigmoid(-z), as a float."""
    import decimal

    with decimal.localcontext() as context:
        context.prec = 60
        return float(formula(_exact_sigmoid(z), _exact_sigmoid(-z), decimal.Decimal(z)))


def _assert_relative(computed, exact, what):
    # Every value at these points is a normal float64, so the two-branch formulas keep the
    # relative accuracy of a few roundings (1e-15 is about five units in the last place).
    assert exact != 0.0 and abs(computed - exact) <= 1e-15 * abs(exact), f"{what}: got {computed!r}, exact {exact!r}"


@pytest.fixture(autouse=False)
def no_float_warnings():
    # Overflow, underflow to 0 through division, or 0/0 in the tails would raise here.
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        yield


@pytest.mark.parametrize("z", TAIL_POINTS)
def test_sigmoid_and_its_derivative_are_accurate_in_both_tails(z, no_float_warnings):
    sigmoid = activations.Sigmoid()
    _assert_relative(float(sigmoid.value(z)), _exact(lambda s, sm, _: s, z), f"sigmoid({z})")
    _assert_relative(float(sigmoid.derivative(z)), _exact(lambda s, sm, _: s * sm, z), f"sigmoid'({z})")
    _assert_relative(float(activations.Softplus().derivative(z)), _exact(lambda s, sm, _: s, z), f"softplus'({z})")


@pytest.mark.parametrize("z", TAIL_POINTS)
def test_swish_is_accurate_in_both_tails(z, no_float_warnings):
    swish = activations.Swish()
    _assert_relative(float(swish.value(z)), _exact(lambda s, sm, x: x * s, z), f"swish({z})")
    _assert_relative(float(swish.derivative(z)), _exact(lambda s, sm, x: s * (1 + x * sm), z), f"swish'({z})")


@pytest.mark.parametrize("z", TAIL_POINTS)
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_bce_with_logits_gradient_is_accurate_in_both_tails(z, label, no_float_warnings):
    from nnlib.losses import binary_cross_entropy_with_logits

    _, grad = binary_cross_entropy_with_logits(np.array([z]), np.array([label]))
    exact = _exact(lambda s, sm, _: -sm if label else s, z)  # sigmoid(z) - y (= -sigmoid(-z) for y = 1), N = 1
    _assert_relative(float(grad[0]), exact, f"d BCE / dz at z={z}, y={label}")
