"""Losses: each gradient agrees with centred differences; stable versions stay finite."""
import numpy as np
import pytest

from nnlib import losses
from nnlib.gradcheck import numerical_gradient, relative_error


def _targets(name, rng, shape):
    if name in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
        return rng.integers(0, 2, size=shape).astype(float)
    if name == "hinge":
        return rng.choice([-1.0, 1.0], size=shape)
    if name == "softmax_cross_entropy":
        return rng.integers(0, shape[1], size=shape[0])
    return rng.standard_normal(shape)


def _predictions(name, rng, shape):
    if name == "binary_cross_entropy":
        return rng.uniform(0.05, 0.95, size=shape)
    if name == "hinge":  # stay away from the kink at margin 1
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 0.8, size=shape)
    return rng.standard_normal(shape) * 2


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("shape", [(7, 1), (5, 3)])
def test_gradient_matches_centred_differences(name, shape, rng):
    if name in ("binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge") and shape[1] != 1:
        shape = (shape[0] * shape[1], 1)
    loss = losses.get_loss(name)
    y_hat, y = _predictions(name, rng, shape), _targets(name, rng, shape)
    value, grad = loss(y_hat, y)
    assert isinstance(value, float) and grad.shape == y_hat.shape
    numeric = numerical_gradient(lambda p: loss(p, y)[0], y_hat.copy())
    assert relative_error(grad, numeric) < 1e-7


def test_mse_value_by_hand():
    value, grad = losses.mse(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    assert value == pytest.approx((1 + 4) / 2)
    np.testing.assert_allclose(grad, [[1.0], [2.0]])


def test_bce_from_logits_equals_bce_from_probabilities(rng):
    logits, y = rng.standard_normal((9, 1)), rng.integers(0, 2, (9, 1)).astype(float)
    probs = 1 / (1 + np.exp(-logits))
    assert losses.binary_cross_entropy_with_logits(logits, y)[0] == pytest.approx(
        losses.binary_cross_entropy(probs, y)[0], rel=1e-10)


def test_stable_losses_stay_finite_for_huge_logits():
    logits = np.array([[1000.0], [-1000.0]])
    y = np.array([[0.0], [1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = losses.binary_cross_entropy_with_logits(logits, y)
        assert value == pytest.approx(1000.0)
        np.testing.assert_allclose(grad, [[0.5], [-0.5]])
        value, grad = losses.softmax_cross_entropy(np.array([[1000.0, 0.0, -1000.0]]), np.array([2]))
    assert value == pytest.approx(2000.0)
    assert np.all(np.isfinite(grad))


def test_softmax_cross_entropy_accepts_labels_or_one_hot(rng):
    scores, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    by_label = losses.softmax_cross_entropy(scores, labels)
    by_onehot = losses.softmax_cross_entropy(scores, np.eye(4)[labels])
    assert by_label[0] == pytest.approx(by_onehot[0])
    np.testing.assert_allclose(by_label[1], by_onehot[1])


def test_uniform_scores_give_log_num_classes():
    assert losses.softmax_cross_entropy(np.zeros((3, 10)), np.array([0, 5, 9]))[0] == pytest.approx(np.log(10))


def test_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r"y_hat and y must have the same shape, got y_hat \(4, 1\) and y \(4,\)"):
        losses.mse(np.zeros((4, 1)), np.zeros(4))


@pytest.mark.parametrize("labels, message", [
    (np.array([0.0, 1.0]), "integer labels of shape"),
    (np.array([0, 3]), r"labels in y must lie in \[0, 3\)"),
    (np.array([0, 1, 2]), "integer labels of shape"),
])
def test_softmax_cross_entropy_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        losses.softmax_cross_entropy(np.zeros((2, 3)), labels)


def test_hinge_needs_plus_minus_one_labels():
    with pytest.raises(ValueError, match=r"labels y in \{-1, \+1\}"):
        losses.hinge(np.zeros((2, 1)), np.array([[0.0], [1.0]]))


def test_bce_rejects_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\]"):
        losses.binary_cross_entropy(np.array([[1.5]]), np.array([[1.0]]))


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'l2'; valid: .*'mse'"):
        losses.get_loss("l2")


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_bce_gradient_is_that_of_the_clipped_function(label):
    # With eps = 0.05, the first two and last two probabilities are clipped, the middle three not;
    # every point is further than the difference step from the clip and from 0 and 1.
    probs = np.array([[0.001], [0.02], [0.2], [0.5], [0.8], [0.97], [0.999]])
    y = np.full_like(probs, label)
    value, grad = losses.binary_cross_entropy(probs, y, eps=0.05)
    numeric = numerical_gradient(lambda p: losses.binary_cross_entropy(p, y, eps=0.05)[0], probs.copy())
    clipped = np.array([True, True, False, False, False, True, True])
    assert np.all(grad[clipped] == 0.0) and np.all(np.abs(numeric[clipped]) < 1e-9)
    assert np.all(grad[~clipped] != 0.0)
    assert relative_error(grad[~clipped], numeric[~clipped]) < 1e-8


def test_bce_at_exact_zero_and_one_is_finite_with_zero_gradient():
    # A confidently wrong prediction: the cost is capped at -log(eps), and the clipped function is flat.
    value, grad = losses.binary_cross_entropy(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    assert value == pytest.approx(-np.log(1e-12))
    np.testing.assert_array_equal(grad, [[0.0], [0.0]])


@pytest.mark.parametrize("eps", [0.0, 0.5, -1e-3])
def test_bce_rejects_an_eps_outside_the_open_interval(eps):
    with pytest.raises(ValueError, match=rf"eps must lie in \(0, 0.5\), got {eps!r}"):
        losses.binary_cross_entropy(np.array([[0.3]]), np.array([[1.0]]), eps=eps)
