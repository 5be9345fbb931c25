"""Learning-rate schedules (optimization chapter).

Each function returns a schedule: a function of the step number t = 0, 1, 2, ...
giving the factor that multiplies the base learning rate at that step. Wrap an
optimizer with ``nnlib.optim.Scheduled(optimizer, schedule)`` to use one.
"""
import math
import numbers

from . import _checks


def _fraction(value, name, zero_allowed=False):
    interval = "[0, 1]" if zero_allowed else "(0, 1]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            0 <= value <= 1 if zero_allowed else 0 < value <= 1):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def constant():
    """Factor 1 at every step."""
    return lambda t: 1.0


def step_decay(every, factor=0.1):
    """Multiply the rate by ``factor`` every ``every`` steps: factor ** (t // every)."""
    _checks.positive(every, "every", integer=True)
    factor = _fraction(factor, "factor")
    return lambda t: factor ** (t // every)


def cosine(total_steps, final=0.0):
    """Half a cosine from 1 down to ``final`` over ``total_steps`` steps, then ``final``.

    factor(t) = final + (1 - final) * (1 + cos(pi * min(t, T) / T)) / 2, T = total_steps
    (Loshchilov & Hutter's SGDR without restarts).
    """
    _checks.positive(total_steps, "total_steps", integer=True)
    final = _fraction(final, "final", zero_allowed=True)
    return lambda t: final + (1 - final) * (1 + math.cos(math.pi * min(t, total_steps) / total_steps)) / 2


def warmup(steps, then=None):
    """Linear warm-up: factor (t + 1) / steps for the first ``steps`` steps, then ``then(t - steps)``.

    then : schedule, optional
        What follows the warm-up, started at its own step 0 (default ``constant()``).
    """
    _checks.positive(steps, "steps", integer=True)
    if then is not None and not callable(then):
        raise TypeError(f"then must be a schedule (a function of the step), got {type(then).__name__}")
    then = then or constant()
    return lambda t: (t + 1) / steps if t < steps else then(t - steps)


def exponential(rate):
    """Factor rate ** t: the geometric growth of the learning-rate range test (rate > 1)."""
    _checks.positive(rate, "rate")
    return lambda t: rate**t
