"""Gradient-check helpers, initializers, data sets and the plotting style."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import nnlib
from nnlib import datasets, gradcheck, initializers, plotting


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0, 0.5]])
    grad = gradcheck.numerical_gradient(lambda v: np.sum(v**3), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0, 0.5]])  # restored


def test_relative_error_and_worst_entry():
    analytic = np.array([[1.0, 2.0], [3.0, 4.0]])
    numeric = analytic.copy()
    assert gradcheck.relative_error(analytic, numeric) == 0.0
    numeric[1, 0] = 3.3
    worst = gradcheck.worst_entry(analytic, numeric)
    assert worst["index"] == (1, 0) and worst["numeric"] == 3.3
    assert worst["relative_error"] == pytest.approx(0.3 / 6.3)
    assert gradcheck.relative_error(analytic, numeric) == pytest.approx(0.3 / 6.3)


def test_relative_error_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"analytic \(2, 3\) and numeric \(3, 2\) shapes differ"):
        gradcheck.relative_error(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("name, std", [
    ("xavier_normal", np.sqrt(2 / (200 + 300))), ("he_normal", np.sqrt(2 / 200)),
    ("xavier_uniform", np.sqrt(6 / 500) / np.sqrt(3)), ("he_uniform", np.sqrt(6 / 200) / np.sqrt(3)),
])
def test_initializer_scales(name, std):
    weights = initializers.get_initializer(name)((200, 300), np.random.default_rng(0))
    assert weights.shape == (200, 300)
    assert weights.std() == pytest.approx(std, rel=0.02)
    assert abs(weights.mean()) < 0.01 * std * 10


def test_constant_and_uniform():
    assert np.all(initializers.constant((2, 3), value=0.5) == 0.5)
    weights = initializers.uniform((50, 40), np.random.default_rng(0), limit=1.0)
    assert -1 <= weights.min() < -0.95 and 0.95 < weights.max() <= 1


def test_x_sin_x_shapes_noise_and_determinism():
    x, y = datasets.x_sin_x(100)
    assert x.shape == y.shape == (100, 1) and x.min() == -10 and x.max() == 10
    np.testing.assert_allclose(y, x * np.sin(x))
    _, noisy = datasets.x_sin_x(100, noise=0.5, seed=3)
    np.testing.assert_array_equal(noisy, datasets.x_sin_x(100, noise=0.5, seed=3)[1])
    assert 0.4 < np.std(noisy - y) < 0.6


def test_train_test_split_is_a_partition():
    x, y = datasets.x_sin_x(40)
    x_train, y_train, x_test, y_test = datasets.train_test_split(x, y, test_fraction=0.25, seed=1)
    assert len(x_test) == 10 and len(x_train) == 30
    assert sorted(np.concatenate([x_train, x_test]).ravel()) == sorted(x.ravel())
    np.testing.assert_allclose(y_test, x_test * np.sin(x_test))


def test_blobs_are_linearly_separable_and_xor_is_not():
    x, y = datasets.blobs(200, seed=0)
    assert set(np.unique(y)) == {0, 1} and len(y) > 180
    assert np.all((x.sum(axis=1) > 0) == (y == 1))
    x, y = datasets.xor(200, seed=0)
    quadrant = (x[:, 0] > 0) ^ (x[:, 1] > 0)
    assert np.mean(quadrant == y) > 0.95


@pytest.mark.parametrize("make", [datasets.spirals, datasets.multiclass])
def test_classification_sets(make):
    x, y = make(300, num_classes=3, seed=2)
    assert x.shape == (300, 2) and y.shape == (300,) and np.bincount(y).tolist() == [100] * 3
    np.testing.assert_array_equal(x, make(300, num_classes=3, seed=2)[0])


def test_bad_dataset_arguments():
    with pytest.raises(ValueError, match="num_points must be a positive integer, got 0"):
        datasets.x_sin_x(0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        datasets.x_sin_x(10, noise=-1)


def test_palette_is_distinct_and_plots_render():
    assert len(set(plotting.PALETTE)) == len(plotting.PALETTE)
    x, y = datasets.blobs(60, seed=0)
    model = nnlib.mlp([2, 4, 2], rng=np.random.default_rng(0))
    fig, (left, right) = plotting.figure(ncols=2)
    plotting.plot_decision_regions(left, lambda p: model.predict(p).argmax(axis=1), x, y)
    plotting.plot_loss(right, [3.0, 2.0, 1.0])
    assert left.get_xlabel() == "$x_1$" and right.get_yscale() == "log"
    fig.canvas.draw()
