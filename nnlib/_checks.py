"""Input validation shared by every module: fail early, name the argument."""
import numbers

import numpy as np


def as_array(value, name, ndim=None, finite=True):
    """Return ``value`` as a float64 array, checking its dimensions and values.

    Raises ``ValueError`` naming ``name`` when the array has the wrong number of
    dimensions or (with ``finite=True``) holds NaN or infinity.
    """
    array = np.asarray(value, dtype=np.float64)
    if ndim is not None and array.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(
            f"{name} must be a {ndim}-D array, got shape {array.shape} ({array.ndim}-D)"
        )
    if finite and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s)")
    return array


def positive(value, name, integer=False):
    """Return ``value`` if it is a positive number (an int when ``integer``)."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        expected = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def choice(value, name, options):
    """Return ``value`` if it is one of ``options``; otherwise list the valid ones."""
    if value not in options:
        valid = ", ".join(repr(option) for option in sorted(options))
        raise ValueError(f"unknown {name} {value!r}; valid: {valid}")
    return value


def same_rows(a, b, name_a, name_b):
    """Check that two arrays hold the same number of examples (first axis)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of rows, "
            f"got {name_a} {a.shape} and {name_b} {b.shape}"
        )


def same_shape(a, b, name_a, name_b):
    """Check that two arrays have identical shapes, naming both if not."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, "
            f"got {name_a} {a.shape} and {name_b} {b.shape}"
        )


def generator(rng, name="rng"):
    """Return ``rng`` if it is a ``numpy.random.Generator``; randomness is explicit."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng
