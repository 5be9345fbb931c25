"""Small seeded data sets used across the course. Same seed, same data.

Regression sets return x, y of shape (N, 1); classification sets return
x of shape (N, 2) and integer labels y of shape (N,). ``digits`` is the one
real data set: 8x8 images of handwritten digits (``data/README.md`` gives its
source and licence).
"""
from pathlib import Path

import numpy as np

from . import _checks

DATA = Path(__file__).resolve().parent / "data"


def x_sin_x(num_points=256, low=-10.0, high=10.0, noise=0.0, seed=0):
    """Points of y = x sin(x) on an even grid of [low, high], with optional Gaussian noise.

    The running example of chapters 5, 7 and 8.

    Returns
    -------
    x, y : arrays, shape (N, 1)
    """
    _checks.positive(num_points, "num_points", integer=True)
    if not high > low:
        raise ValueError(f"high must be greater than low, got low={low!r}, high={high!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    x = np.linspace(low, high, num_points)[:, None]
    y = x * np.sin(x) + noise * np.random.default_rng(seed).standard_normal(x.shape)
    return x, y


def train_test_split(x, y, test_fraction=0.25, seed=0):
    """Shuffle the rows and split them: returns x_train, y_train, x_test, y_test."""
    _checks.same_rows(np.asarray(x), np.asarray(y), "x", "y")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(x))
    num_test = max(1, int(round(test_fraction * len(x))))
    test, train = order[:num_test], order[num_test:]
    return x[train], y[train], x[test], y[test]


def _gaussian_clusters(centres, points_per_class, spread, rng):
    x = np.concatenate([rng.normal(centre, spread, size=(points_per_class, 2)) for centre in centres])
    y = np.repeat(np.arange(len(centres)), points_per_class)
    order = rng.permutation(len(y))
    return x[order], y[order]


def blobs(num_points=200, seed=0):
    """Two Gaussian clusters that a straight line separates (chapter 1's perceptron)."""
    _checks.positive(num_points, "num_points", integer=True)
    rng = np.random.default_rng(seed)
    x, y = _gaussian_clusters([(-1.5, -1.0), (1.5, 1.0)], num_points // 2, 0.6, rng)
    # Clusters 4.5 standard deviations apart can still overlap by chance; drop the few
    # points on the wrong side of the separating line x1 + x2 = 0 so separability is certain.
    keep = np.sign(x.sum(axis=1)) == 2 * y - 1
    return x[keep], y[keep]


def xor(num_points=200, noise=0.15, seed=0):
    """Four clusters at the corners of a square; opposite corners share a label."""
    _checks.positive(num_points, "num_points", integer=True)
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(num_points, 2))
    x = 2.0 * corners - 1.0 + noise * rng.standard_normal((num_points, 2))
    return x, (corners[:, 0] ^ corners[:, 1]).astype(np.int64)


def spirals(num_points=300, num_classes=2, noise=0.2, seed=0):
    """Interleaved spiral arms, one per class; no linear model separates them."""
    _checks.positive(num_points, "num_points", integer=True)
    _checks.positive(num_classes, "num_classes", integer=True)
    rng = np.random.default_rng(seed)
    per_class = num_points // num_classes
    radius = np.linspace(0.1, 1.0, per_class)
    xs, ys = [], []
    for label in range(num_classes):
        angle = np.linspace(0, 4.0, per_class) + 2 * np.pi * label / num_classes
        angle = angle + noise * rng.standard_normal(per_class)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(per_class, label))
    return np.concatenate(xs), np.concatenate(ys)


def multiclass(num_points=300, num_classes=3, spread=0.9, seed=0):
    """Gaussian clusters on a circle, one per class, overlapping a little (softmax examples)."""
    _checks.positive(num_points, "num_points", integer=True)
    _checks.positive(num_classes, "num_classes", integer=True)
    angles = 2 * np.pi * np.arange(num_classes) / num_classes
    centres = 2.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _gaussian_clusters(centres, num_points // num_classes, spread, np.random.default_rng(seed))


def digits():
    """The 1,797 8x8 handwritten digits (UCI, CC BY 4.0): the capstone's data.

    Returns
    -------
    x : array, shape (1797, 64)
        float64 pixel values 0..16, each image flattened row by row.
    y : array, shape (1797,)
        int64 digit labels 0..9.
    """
    with np.load(DATA / "digits.npz") as data:
        images, labels = data["images"], data["labels"]
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)
