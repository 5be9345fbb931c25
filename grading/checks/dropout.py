"""Checks of the ``dropout`` assignment: inverted dropout and the L2 penalty.

``dropout_forward(x, drop_prob, training, rng) -> (out, cache)`` and
``dropout_backward(dout, cache) -> dx``. Students may draw their masks however they
like from ``rng``, so the checks test properties, never one particular mask: every
output entry is 0 or x / (1 - drop_prob); over many entries the dropped share is
drop_prob and the mean is preserved; the same seed gives the same mask and another seed
another one; backward reuses the forward mask. The checks only ever draw from their own
generators, so a function that touches numpy's global random state is graded the same.
"""
import numpy as np

from . import base
from .base import CheckFailed, as_checked_array, as_checked_float, check_unchanged, compare, part, unpack

VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 2  # hidden seeds per part, drawn from the course secret (base.HiddenInputs)
BIG = (400, 50)  # 20,000 entries: the dropped share has a standard deviation below 0.0035


def _seeds(hidden):
    return base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)


def _away_from_zero(rng, shape):
    z = rng.standard_normal(shape)
    return np.where(np.abs(z) < 0.05, 0.5, z)


def _forward(call, x, drop_prob, training, seed):
    given = x.copy()
    out, cache = unpack(call("dropout_forward", given, drop_prob, training, np.random.default_rng(seed)),
                        2, "dropout_forward")
    check_unchanged(x, given, "x", "dropout_forward")
    return as_checked_array(out, x.shape, "out"), cache


def _kept(out, x, drop_prob):
    """Boolean mask of kept entries; fails unless every entry is 0 or x / (1 - drop_prob)."""
    kept = out != 0
    scaled = x / (1.0 - drop_prob)
    if np.allclose(out[kept], scaled[kept], rtol=1e-9, atol=0):
        return kept
    if np.allclose(out[kept], x[kept], rtol=1e-9, atol=0):
        raise CheckFailed("kept units are not scaled: inverted dropout divides them by (1 - drop_prob), so "
                          "test time needs no rescaling")
    if drop_prob and np.allclose(out[kept], x[kept] / drop_prob, rtol=1e-9, atol=0):
        raise CheckFailed("kept units are divided by drop_prob; divide by the keep probability 1 - drop_prob")
    raise CheckFailed("in training every output entry must be 0 or x / (1 - drop_prob)")


@part("dropout_forward", ("dropout_forward",), points=3)
def check_dropout_forward(call, hidden):
    """Identity at test time; in training 0 or x / (1 - p), share p dropped, mean kept, seeded."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        x = _away_from_zero(rng, (6, 9))

        def test_time(x=x, seed=seed):
            out, _ = _forward(call, x, 0.5, False, seed)
            if np.any(out == 0):
                raise CheckFailed("units are dropped with training=False: at test time dropout is the identity")
            compare(out, x, "out with training=False", tol=1e-12, causes=[
                ("kept units are rescaled at test time: inverted dropout scales in training only", 2 * x)])

        def no_drop(x=x, seed=seed):
            out, _ = _forward(call, x, 0.0, True, seed)
            compare(out, x, "out with drop_prob=0", tol=1e-12)

        yield f"seed {seed}, training=False is the identity", test_time
        yield f"seed {seed}, drop_prob=0 is the identity", no_drop
        for drop_prob in (0.3, 0.75) if hidden else (0.4,):
            big = 1.0 + rng.random(BIG)

            def statistics(big=big, drop_prob=drop_prob, seed=seed):
                out, _ = _forward(call, big, drop_prob, True, seed)
                kept = _kept(out, big, drop_prob)
                dropped = 1.0 - kept.mean()
                if abs(dropped - drop_prob) > 0.02:
                    hint = ("; it looks like drop_prob is used as the keep probability"
                            if abs(dropped - (1 - drop_prob)) < 0.02 else "")
                    raise CheckFailed(f"with drop_prob={drop_prob} a share {dropped:.3f} of the units was "
                                      f"dropped{hint}")
                ratio = float(np.mean(out / big))
                if abs(ratio - 1.0) > 0.05:
                    raise CheckFailed(f"the mean of out / x is {ratio:.3f}; inverted dropout keeps it at 1 "
                                      "in expectation")

            def seeded(x=x, drop_prob=drop_prob, seed=seed):
                first, _ = _forward(call, x, drop_prob, True, seed)
                again, _ = _forward(call, x, drop_prob, True, seed)
                if not np.array_equal(first, again):
                    raise CheckFailed("two calls with generators of the same seed gave different masks: "
                                      "draw the mask from the rng argument, not from np.random")
                others = [_forward(call, x, drop_prob, True, seed + k)[0] for k in range(1, 4)]
                if all(np.array_equal(first != 0, other != 0) for other in others):
                    raise CheckFailed("generators of different seeds gave the same mask: draw the mask from "
                                      "the rng argument (do not reseed)")

            yield f"seed {seed}, drop_prob={drop_prob}: dropped share and mean", statistics
            yield f"seed {seed}, drop_prob={drop_prob}: the mask comes from rng", seeded


@part("dropout_backward", ("dropout_forward", "dropout_backward"), points=2)
def check_dropout_backward(call, hidden):
    """dx = dout * mask / (1 - p) with the forward's mask; dx = dout when training=False."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        for drop_prob in (0.25, 0.6) if hidden else (0.5,):
            x, dout = _away_from_zero(rng, (8, 7)), rng.standard_normal((8, 7))

            def training(x=x, dout=dout, drop_prob=drop_prob, seed=seed):
                out, cache = _forward(call, x, drop_prob, True, seed)
                kept = _kept(out, x, drop_prob)
                given = dout.copy()
                dx = call("dropout_backward", given, cache)
                check_unchanged(dout, given, "dout", "dropout_backward")
                expected = dout * kept / (1.0 - drop_prob)
                got = as_checked_array(dx, dout.shape, "dx")
                passed = got != 0
                if not np.array_equal(passed, kept) and np.allclose(
                        got[passed], dout[passed] / (1.0 - drop_prob), rtol=1e-9, atol=0):
                    raise CheckFailed("dx uses a different mask than the forward pass: keep the forward "
                                      "mask in the cache and reuse it, never draw a new one")
                compare(dx, expected, "dx", tol=1e-9, causes=[
                    ("the mask is applied without the 1 / (1 - drop_prob) scale", dout * kept),
                    ("dx is dout: apply the forward mask", dout)])

            def evaluation(x=x, dout=dout, seed=seed):
                _, cache = _forward(call, x, 0.5, False, seed)
                given = dout.copy()
                dx = call("dropout_backward", given, cache)
                compare(dx, dout, "dx after training=False", tol=1e-12)

            yield f"seed {seed}, drop_prob={drop_prob}: backward reuses the mask", training
            yield f"seed {seed}: backward after training=False", evaluation


@part("l2_penalty", ("l2_penalty",), points=2)
def check_l2_penalty(call, hidden):
    """value = 0.5 reg sum_W |W|^2, grads = [reg W for each W], weights unchanged."""
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        shapes = [(3, 4), (4, 2)] if not hidden else [(2, 5), (5, 3), (3, 1)]
        for reg in (0.1,) if not hidden else (0.0, 0.05, 2.0):
            weights = [rng.standard_normal(shape) for shape in shapes]

            def case(weights=weights, reg=reg):
                given = [w.copy() for w in weights]
                value, grads = unpack(call("l2_penalty", given, reg), 2, "l2_penalty")
                for index, (before, after) in enumerate(zip(weights, given)):
                    check_unchanged(before, after, f"weights[{index}]", "l2_penalty")
                sum_squares = sum(float(np.sum(w ** 2)) for w in weights)
                compare(as_checked_float(value, "the penalty"), 0.5 * reg * sum_squares, "the penalty", causes=[
                    ("the penalty is missing its 0.5: 0.5 * reg * sum of squared weights", reg * sum_squares),
                    ("the weights are not squared", 0.5 * reg * sum(float(np.sum(w)) for w in weights))])
                if not isinstance(grads, (list, tuple)) or len(grads) != len(weights):
                    raise CheckFailed(f"grads must be a list with one gradient per weight array "
                                      f"({len(weights)} here)")
                for index, (w, grad) in enumerate(zip(weights, grads)):
                    compare(grad, reg * w, f"grads[{index}]", causes=[
                        ("the gradient of 0.5 reg |W|^2 is reg * W, not 2 reg W", 2 * reg * w),
                        ("the gradient is missing reg", w)])

            yield f"seed {seed}, reg={reg}, {len(shapes)} weight arrays", case


PARTS = [check_dropout_forward, check_dropout_backward, check_l2_penalty]
PARTS_BY_ID = {p.grade_id: p for p in PARTS}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
