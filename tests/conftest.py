"""Shared fixtures for the unit tests."""
import numpy as np
import pytest


@pytest.fixture(params=[0, 1, 2], ids=lambda seed: f"seed{seed}")
def rng(request):
    """A fresh generator per test, several seeds so a lucky draw cannot pass a bug."""
    return np.random.default_rng(request.param)


@pytest.fixture
def away_from_kinks():
    """Draw standard-normal values with none closer than 1e-3 to 0, where ReLU-like kinks are."""

    def draw(rng, shape):
        z = rng.standard_normal(shape)
        return np.where(np.abs(z) < 1e-3, np.where(z < 0, -1e-2, 1e-2), z)

    return draw
