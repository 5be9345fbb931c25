"""Checks of the ``optimizers`` assignment: one update step of momentum, RMSProp and Adam.

Each function takes ``(param, grad, state, hyperparameters)`` and returns
``(new_param, new_state)`` without changing its inputs. The hyperparameters and the
state use ``nnlib.optim``'s names (``Momentum``: lr, momentum, nesterov and the state
``velocity``; ``RMSProp``: lr, rho, eps and ``mean_square``; ``Adam``: lr, beta1, beta2,
eps and ``m``, ``v``, ``t``), and the expected values are what those nnlib optimizers
compute from the same state, so nnlib is the reference. Every case runs a few steps
from a fresh state and one step from a state in the middle of a run, on a non-square
weight matrix and on a bias row, so a transposed or broadcast result shows.
"""
import numpy as np

from nnlib.optim import Adam, Momentum, RMSProp

from . import base
from .base import CheckFailed, as_checked_float, check_unchanged, compare, part, unpack

VISIBLE_SEEDS = (0,)
HIDDEN_COUNT = 3  # hidden seeds per part, drawn from the course secret (base.HiddenInputs)
SHAPES = ((3, 4), (5,))
STEPS = 3  # steps taken from a fresh state in each case
STATE_NAMES = {"sgd_momentum_step": ("velocity",), "rmsprop_step": ("mean_square",),
               "adam_step": ("m", "v", "t")}
REFERENCES = {"sgd_momentum_step": Momentum, "rmsprop_step": RMSProp, "adam_step": Adam}


def _seeds(hidden):
    return base.seeds(hidden, VISIBLE_SEEDS, HIDDEN_COUNT)


def fresh_state(name, param):
    """The state before the first step: zeros of ``param``'s shape (and ``t = 0`` for Adam)."""
    return {key: 0 if key == "t" else np.zeros_like(param) for key in STATE_NAMES[name]}


def reference_step(name, param, grad, state, hyperparameters):
    """(new_param, new_state) as nnlib's optimizer computes them from ``state``."""
    optimizer = REFERENCES[name](**hyperparameters)
    new_param = np.array(param, dtype=np.float64, copy=True)
    arrays = [key for key in STATE_NAMES[name] if key != "t"]
    kept = optimizer.state(new_param, grad, *arrays)
    for key in arrays:
        kept[key][...] = state[key]
    kept["t"] = int(state.get("t", 0))
    optimizer.step([(new_param, np.array(grad, dtype=np.float64, copy=True))])
    return new_param, {key: (kept[key] if key == "t" else kept[key].copy()) for key in STATE_NAMES[name]}


def _copy_state(state):
    return {key: (value.copy() if isinstance(value, np.ndarray) else value) for key, value in state.items()}


def _same(ours, theirs):
    """Whether an input value came back unchanged (``theirs`` is untrusted)."""
    try:
        return bool(np.array_equal(np.asarray(ours), np.asarray(theirs, dtype=np.float64)))
    except Exception:  # noqa: BLE001 (a replaced entry may be any object)
        return False


def _checked_step(call, name, param, grad, state, hyperparameters):
    """Call ``name`` on copies; fail if it changed an input; the returned (param, state) checked."""
    given_param, given_grad, given_state = param.copy(), grad.copy(), _copy_state(state)
    given_hyper = dict(hyperparameters)
    result = unpack(call(name, given_param, given_grad, given_state, given_hyper), 2, name)
    check_unchanged(param, given_param, "param", name)
    check_unchanged(grad, given_grad, "grad", name)
    if not isinstance(given_state, dict) or set(given_state) != set(state):
        raise CheckFailed(f"{name} changed the keys of its input state; return a new state dict instead")
    for key, value in state.items():
        if not _same(value, given_state[key]):
            raise CheckFailed(f"{name} changed state['{key}'] in place; compute the new values and "
                              f"return them in a new state dict")
    if set(given_hyper) != set(hyperparameters) or not all(
            _same(value, given_hyper[key]) for key, value in hyperparameters.items()):
        raise CheckFailed(f"{name} changed its hyperparameters dict; leave it as given")
    new_param, new_state = result
    if not isinstance(new_state, dict):
        raise CheckFailed(f"{name} must return the new state as a dict, got a {type(new_state).__name__}")
    missing = [key for key in STATE_NAMES[name] if key not in new_state]
    if missing:
        raise CheckFailed(f"the state {name} returned has no entry {', '.join(repr(k) for k in missing)}")
    return new_param, new_state


def _compare_step(name, got, expected, causes, nonfinite=None):
    """Compare the returned param and state with nnlib's; ``causes`` maps "param"/state keys to candidates."""
    new_param, new_state = got
    expected_param, expected_state = expected
    compare(new_param, expected_param, "new_param", causes=causes.get("param", ()), nonfinite=nonfinite)
    for key in STATE_NAMES[name]:
        if key == "t":
            t = as_checked_float(new_state["t"], "new_state['t']")
            if t != expected_state["t"]:
                raise CheckFailed("new_state['t'] is wrong: it counts the steps taken, so each step "
                                  "returns the t it was given plus 1")
        else:
            compare(new_state[key], expected_state[key], f"new_state['{key}']", causes=causes.get(key, ()),
                    nonfinite=nonfinite)


def _cases(call, name, hidden, settings, mid_run_state, mistakes, nonfinite=None):
    """Labelled cases: STEPS steps from a fresh state and one from a mid-run state, per setting.

    ``settings(rng)`` gives (label, hyperparameters, gradient scale) triples;
    ``mid_run_state(rng, shape, scale)`` a plausible state after some steps; ``mistakes(param,
    grad, state, hyperparameters)`` the {"param" or state key: [(cause, candidate)]} of
    known wrong updates of that one step.
    """
    for seed in _seeds(hidden):
        rng = np.random.default_rng(seed)
        for shape in SHAPES:
            for label, hyperparameters, scale in settings(rng):
                param = rng.standard_normal(shape)
                grads = [scale * rng.standard_normal(shape) for _ in range(STEPS)]
                start = mid_run_state(rng, shape, scale)
                mid_param, mid_grad = rng.standard_normal(shape), scale * rng.standard_normal(shape)

                def from_fresh(param=param, grads=grads, hyperparameters=hyperparameters):
                    state = fresh_state(name, param)
                    for grad in grads:
                        got = _checked_step(call, name, param, grad, state, hyperparameters)
                        expected = reference_step(name, param, grad, state, hyperparameters)
                        _compare_step(name, got, expected, mistakes(param, grad, state, hyperparameters),
                                      nonfinite)
                        param, state = expected  # the next step starts where nnlib's step ended

                def from_mid_run(param=mid_param, grad=mid_grad, state=start, hyperparameters=hyperparameters):
                    got = _checked_step(call, name, param, grad, state, hyperparameters)
                    expected = reference_step(name, param, grad, state, hyperparameters)
                    _compare_step(name, got, expected, mistakes(param, grad, state, hyperparameters), nonfinite)

                where = f"seed {seed}, param {shape}, {label}"
                yield f"{where}, {STEPS} steps from a fresh state", from_fresh
                yield f"{where}, one step in the middle of a run", from_mid_run


# ---------------------------------------------------------------------------- momentum

def _momentum_settings(rng):
    lr, momentum = float(rng.uniform(0.05, 0.2)), float(rng.uniform(0.6, 0.95))
    yield "heavy ball", {"lr": lr, "momentum": momentum, "nesterov": False}, 1.0
    yield "Nesterov", {"lr": lr, "momentum": momentum, "nesterov": True}, 1.0


def _momentum_mistakes(param, grad, state, hp):
    lr, beta, v = hp["lr"], hp["momentum"], state["velocity"]
    v_new = beta * v - lr * grad
    plus = beta * v + lr * grad  # the other sign convention, stored as it is
    if hp["nesterov"]:
        steps = [("the Nesterov step is missing: with nesterov=True, param + momentum * v_new - lr * grad",
                  param + v_new),
                 ("the Nesterov step leaves out the gradient term: param + momentum * v_new - lr * grad",
                  param + beta * v_new)]
    else:
        steps = [("nesterov=False takes the Nesterov step: the heavy ball is param + v_new",
                  param + beta * v_new - lr * grad)]
    return {
        "param": steps + [
            ("the velocity has the other sign: this course keeps v <- momentum * v - lr * grad and adds "
             "it, param + v", param - plus),
            ("the velocity is not decayed: v <- momentum * v - lr * grad", param + v - lr * grad)],
        "velocity": [("the velocity has the other sign: this course keeps v <- momentum * v - lr * grad "
                      "(nnlib.Momentum's convention)", plus),
                     ("the velocity is kept without the learning rate: store v <- momentum * v - lr * grad",
                      beta * v - grad)],
    }


def _momentum_state(rng, shape, scale):
    return {"velocity": 0.3 * scale * rng.standard_normal(shape)}


@part("sgd_momentum_step", ("sgd_momentum_step",), points=3)
def check_sgd_momentum_step(call, hidden):
    """Heavy ball and Nesterov against nnlib.Momentum; inputs (state included) left unchanged."""
    yield from _cases(call, "sgd_momentum_step", hidden, _momentum_settings, _momentum_state, _momentum_mistakes)


# ---------------------------------------------------------------------------- RMSProp

EPS_INSIDE = "eps is inside the square root: divide by sqrt(s) + eps, not sqrt(s + eps)"


def _rmsprop_settings(rng):
    lr, rho = float(rng.uniform(0.005, 0.05)), float(rng.uniform(0.8, 0.95))
    yield "gradients of size 1", {"lr": lr, "rho": rho, "eps": 1e-8}, 1.0
    # Tiny gradients and a larger eps: where eps inside or outside the root makes a difference.
    yield "gradients of size 1e-4, eps 1e-6", {"lr": lr, "rho": rho, "eps": 1e-6}, 1e-4


def _rmsprop_mistakes(param, grad, state, hp):
    lr, rho, eps, s = hp["lr"], hp["rho"], hp["eps"], state["mean_square"]
    s_new = rho * s + (1 - rho) * grad**2
    return {
        "param": [(EPS_INSIDE, param - lr * grad / np.sqrt(s_new + eps)),
                  ("the step divides by the old mean square: update s first, then divide by sqrt(s_new) + eps",
                   param - lr * grad / (np.sqrt(s) + eps)),
                  ("the (1 - rho) factor is missing: s <- rho * s + (1 - rho) * grad**2",
                   param - lr * grad / (np.sqrt(rho * s + grad**2) + eps)),
                  ("the step divides by the mean square itself: take its square root",
                   param - lr * grad / (s_new + eps))],
        "mean_square": [("the (1 - rho) factor is missing: s <- rho * s + (1 - rho) * grad**2", rho * s + grad**2),
                        ("rho and 1 - rho are swapped: s <- rho * s + (1 - rho) * grad**2",
                         (1 - rho) * s + rho * grad**2)],
    }


def _rmsprop_state(rng, shape, scale):
    return {"mean_square": scale**2 * rng.uniform(0.2, 2.0, shape)}


@part("rmsprop_step", ("rmsprop_step",), points=2)
def check_rmsprop_step(call, hidden):
    """RMSProp against nnlib.RMSProp, with tiny gradients where eps matters; inputs unchanged."""
    yield from _cases(call, "rmsprop_step", hidden, _rmsprop_settings, _rmsprop_state, _rmsprop_mistakes)


# ---------------------------------------------------------------------------- Adam

OLD_T_AT_ZERO = ("the bias correction divides by 1 - beta**0 = 0: increment t first and correct with the new "
                 "t (the first step has t = 1)")


def _adam_settings(rng):
    lr = float(rng.uniform(0.001, 0.05))
    yield "default betas", {"lr": lr, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, 1.0
    beta1, beta2 = float(rng.uniform(0.5, 0.8)), float(rng.uniform(0.9, 0.99))
    yield "gradients of size 1e-4, other betas, eps 1e-6", {
        "lr": lr, "beta1": beta1, "beta2": beta2, "eps": 1e-6}, 1e-4


def _adam_mistakes(param, grad, state, hp):
    lr, b1, b2, eps = hp["lr"], hp["beta1"], hp["beta2"], hp["eps"]
    m, v, t = state["m"], state["v"], int(state["t"]) + 1
    m_new, v_new = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad**2

    def step(m_used, v_used, t_used=t, inside=False):
        m_hat, v_hat = m_used / (1 - b1**t_used), v_used / (1 - b2**t_used)
        return param - lr * m_hat / (np.sqrt(v_hat + eps) if inside else np.sqrt(v_hat) + eps)

    causes = [("the bias correction is missing: divide m by 1 - beta1**t and v by 1 - beta2**t",
               param - lr * m_new / (np.sqrt(v_new) + eps)),
              ("only m is bias-corrected: divide v by 1 - beta2**t as well",
               param - lr * (m_new / (1 - b1**t)) / (np.sqrt(v_new) + eps)),
              (EPS_INSIDE.replace("sqrt(s)", "sqrt(v_hat)").replace("sqrt(s + eps)", "sqrt(v_hat + eps)"),
               step(m_new, v_new, inside=True)),
              ("the bias correction uses t + 1: increment t once and correct with the new t",
               step(m_new, v_new, t + 1))]
    if t > 1:
        causes.append(("the bias correction uses the old t: increment t first and correct with the new t",
                       step(m_new, v_new, t - 1)))
    return {
        "param": causes,
        "m": [("beta1 and 1 - beta1 are swapped: m <- beta1 * m + (1 - beta1) * grad", (1 - b1) * m + b1 * grad),
              ("new_state['m'] is the bias-corrected m_hat: keep m itself in the state, correct only for the step",
               m_new / (1 - b1**t))],
        "v": [("beta2 and 1 - beta2 are swapped: v <- beta2 * v + (1 - beta2) * grad**2",
               (1 - b2) * v + b2 * grad**2),
              ("new_state['v'] is the bias-corrected v_hat: keep v itself in the state, correct only for the step",
               v_new / (1 - b2**t))],
    }


def _adam_state(rng, shape, scale):
    t = int(rng.integers(3, 40))
    return {"m": 0.1 * scale * rng.standard_normal(shape), "v": scale**2 * rng.uniform(0.01, 0.1, shape), "t": t}


@part("adam_step", ("adam_step",), points=4)
def check_adam_step(call, hidden):
    """Adam with bias correction against nnlib.Adam, from t = 0 and mid-run; inputs unchanged."""
    yield from _cases(call, "adam_step", hidden, _adam_settings, _adam_state, _adam_mistakes, nonfinite=OLD_T_AT_ZERO)


PARTS = [check_sgd_momentum_step, check_rmsprop_step, check_adam_step]
PARTS_BY_ID = {p.grade_id: p for p in PARTS}


def report(grade_id, namespace, hidden=False):
    """Run the part ``grade_id`` on a notebook's ``globals()``; see ``base.report``."""
    return base.report(PARTS_BY_ID[grade_id], namespace, hidden)
