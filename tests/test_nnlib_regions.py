"""Linear regions of one-input ReLU networks (nnlib.regions)."""
import numpy as np
import pytest

import nnlib
from nnlib import regions


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8])
def test_sawtooth_of_depth_k_has_2_to_the_k_pieces_on_the_unit_interval(depth):
    model = regions.sawtooth(depth)
    assert regions.count_regions(model, 0.0, 1.0) == 2**depth
    # Its kinks are the dyadic points j / 2^k, strictly inside (0, 1).
    np.testing.assert_allclose(regions.kinks(model, 0.0, 1.0), np.arange(1, 2**depth) / 2**depth)


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_sawtooth_zigzags_between_0_and_1(depth):
    model = regions.sawtooth(depth)
    corners = np.arange(2**depth + 1)[:, None] / 2**depth          # (2^k + 1, 1) the kinks and ends
    np.testing.assert_allclose(model(corners)[:, 0], np.arange(2**depth + 1) % 2, atol=1e-12)
    assert model.num_parameters() == 4 + 6 * (depth - 1) + 3       # O(k) parameters for 2^k pieces


def test_kinks_of_one_hidden_layer_are_its_hinges_inside_the_interval():
    model = nnlib.mlp([1, 6, 1], rng=np.random.default_rng(3))
    model.layers[0].params["b"][:] = [-0.5, 0.2, 0.9, -3.0, 0.0, 0.4]
    hinges = nnlib.hinge_positions(model)
    inside = np.sort(hinges[(hinges > -1) & (hinges < 1)])
    np.testing.assert_allclose(regions.kinks(model, -1.0, 1.0), inside)
    assert len(inside) < 6  # the unit with b = -3 (and maybe others) has its hinge outside


def test_kinks_of_a_random_deep_network_are_where_the_sampled_slope_changes():
    model = nnlib.mlp([1, 8, 8, 8, 1], rng=np.random.default_rng(7))
    nnlib.spread_hinges(model, np.random.default_rng(7))
    found = regions.kinks(model, -1.0, 1.0)
    assert len(found) > 8  # deeper layers add kinks of their own
    x = np.linspace(-1, 1, 200_001)[:, None]
    slopes = np.diff(model(x)[:, 0]) / np.diff(x[:, 0])
    # Inside each region the curve is straight: sampled slopes agree between consecutive kinks.
    edges = np.concatenate([[-1.0], found, [1.0]])
    for left, right in zip(edges[:-1], edges[1:]):
        inside = (x[:-1, 0] > left + 1e-4) & (x[1:, 0] < right - 1e-4)
        if inside.sum() > 1:
            assert np.ptp(slopes[inside]) < 1e-6 * max(1.0, np.abs(slopes[inside]).max())


def test_kinks_rejects_smooth_activations_and_wrong_intervals():
    with pytest.raises(ValueError, match=r"'tanh'"):
        regions.kinks(nnlib.mlp([1, 3, 1], "tanh", rng=np.random.default_rng(0)), -1, 1)
    with pytest.raises(ValueError, match=r"low=1.*high=0"):
        regions.kinks(regions.sawtooth(2), 1.0, 0.0)
    with pytest.raises(ValueError, match=r"1 input.*got Dense\(2 -> 3\)"):
        regions.kinks(nnlib.mlp([2, 3, 1], rng=np.random.default_rng(0)), -1, 1)


def test_sawtooth_rejects_a_depth_that_is_not_a_positive_integer():
    with pytest.raises(ValueError, match="depth"):
        regions.sawtooth(0)


def test_hinge_network_starts_at_its_value_and_changes_slope_at_each_hinge():
    model = regions.hinge_network(positions=[-2.0, 3.0], slope_changes=[1.5, -4.0], start=2.0, start_slope=-1.0)
    x = np.array([[-10.0], [-2.0], [0.0], [3.0], [5.0]])
    # By hand: 2 - (x + 10), then slope -1 + 1.5 = 0.5 after -2, then 0.5 - 4 = -3.5 after 3.
    expected = [2.0, -6.0, -5.0, -3.5, -10.5]
    np.testing.assert_allclose(model(x)[:, 0], expected)
    np.testing.assert_allclose(regions.kinks(model, -9.0, 9.0), [-2.0, 3.0])


def test_hinge_network_needs_one_slope_change_per_hinge():
    with pytest.raises(ValueError, match="positions.*slope_changes"):
        regions.hinge_network(positions=[0.0, 1.0], slope_changes=[1.0])


@pytest.mark.parametrize("depth", [3, 6])
def test_rounding_does_not_split_a_kink_where_a_unit_touches_zero(depth):
    # The sawtooth's inner units touch zero at its valleys without crossing. Biases moved by
    # rounding-sized amounts make them dip below zero over a few ulps: still one kink each.
    model = regions.sawtooth(depth)
    for layer in model.layers[2:-1:2]:
        layer.params["b"][0] -= 1e-15
    assert len(regions.kinks(model, 0.0, 1.0)) == 2**depth - 1
    unmerged = regions._merge_close
    points = np.array([0.0, 0.25, 0.25 + 1e-14, 1.0])
    np.testing.assert_array_equal(unmerged(points, 1e-9), [0.0, 0.25, 1.0])
