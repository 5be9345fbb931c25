"""Weight initializers (chapter 6). Each returns a float64 array of ``shape``.

``shape`` is (D, M) for a Dense layer: fan_in = D inputs, fan_out = M units.
Random ones take an explicit ``numpy.random.Generator``.
"""
import numpy as np

from . import _checks


def _fans(shape):
    if len(shape) < 2:
        raise ValueError(f"shape must be (fan_in, fan_out, ...), got {shape}")
    return shape[0], shape[1]


def constant(shape, rng=None, value=0.0):
    """Every weight equal to ``value``; shows the symmetry problem (chapter 6)."""
    return np.full(shape, float(value))


def uniform(shape, rng, limit=1.0):
    """Independent draws from U(-limit, limit)."""
    _checks.positive(limit, "limit")
    return _checks.generator(rng).uniform(-limit, limit, size=shape)


def xavier_uniform(shape, rng):
    """Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); for tanh."""
    fan_in, fan_out = _fans(shape)
    return uniform(shape, rng, limit=np.sqrt(6.0 / (fan_in + fan_out)))


def xavier_normal(shape, rng):
    """Glorot & Bengio (2010): N(0, 2 / (fan_in + fan_out)); for tanh and sigmoid."""
    fan_in, fan_out = _fans(shape)
    return _checks.generator(rng).normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def he_normal(shape, rng):
    """He et al. (2015): N(0, 2 / fan_in), which keeps ReLU activations' scale."""
    fan_in, _ = _fans(shape)
    return _checks.generator(rng).normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape, rng):
    """He et al. (2015): U(-a, a) with a = sqrt(6 / fan_in)."""
    fan_in, _ = _fans(shape)
    return uniform(shape, rng, limit=np.sqrt(6.0 / fan_in))


INITIALIZERS = {
    fn.__name__: fn
    for fn in (constant, uniform, xavier_uniform, xavier_normal, he_normal, he_uniform)
}


def get_initializer(name):
    """Return the initializer called ``name`` (a callable passes through)."""
    if callable(name):
        return name
    return INITIALIZERS[_checks.choice(name, "init", INITIALIZERS)]
