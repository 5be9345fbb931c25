"""Optimizers and schedules: steps worked out by hand, state keyed by identity, and torch.optim."""
import re

import numpy as np
import pytest

import nnlib
from nnlib import optim, schedules


def _run(optimizer, gradients):
    param = np.array([1.0, -2.0])
    grad = np.zeros(2)
    for step_grad in gradients:
        grad[:] = step_grad
        optimizer.step([(param, grad)])
    return param


def test_sgd_step():
    np.testing.assert_allclose(_run(optim.SGD(lr=0.1), [[0.5, 0.25]]), [0.95, -2.025])


def test_momentum_two_steps():
    # v1 = -0.1 g = [-0.05, -0.025]; v2 = 0.9 v1 - 0.1 g = [-0.095, -0.0475]
    param = _run(optim.Momentum(lr=0.1, momentum=0.9), [[0.5, 0.25]] * 2)
    np.testing.assert_allclose(param, [1 - 0.05 - 0.095, -2 - 0.025 - 0.0475])


def test_adam_two_steps():
    # Step 1: m_hat = g and v_hat = g^2, so each weight moves by lr * sign(g).
    # Step 2, first weight (g flips to -0.5): m = 0.9 * 0.05 - 0.05 = -0.005, m_hat = -0.005 / 0.19;
    # v = 0.999 * 0.00025 + 0.001 * 0.25, v_hat = 0.25, so it moves by +0.1 * (0.005 / 0.19) / 0.5.
    param = _run(optim.Adam(lr=0.1), [[0.5, 0.25], [-0.5, 0.25]])
    np.testing.assert_allclose(param, [0.9 + 0.1 * (0.005 / 0.19) / 0.5, -2.2], rtol=1e-6)


@pytest.mark.parametrize("make", [optim.SGD, optim.Momentum, optim.Adam])
@pytest.mark.parametrize("lr", [0, -0.1, float("nan")])
def test_learning_rate_must_be_positive(make, lr):
    with pytest.raises(ValueError, match=f"lr must be a positive number, got {lr!r}"):
        make(lr=lr)


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'; valid: 'adam', 'adamw', 'momentum', 'rmsprop', 'sgd'"):
        optim.get_optimizer("adagrad", lr=0.1)


def test_nesterov_two_steps():
    # v1 = [-0.05, -0.025]; w1 = w0 + 0.9 v1 - 0.1 g; v2 = 0.9 v1 - 0.1 g = [-0.095, -0.0475]; w2 = w1 + 0.9 v2 - 0.1 g.
    param = _run(optim.Momentum(lr=0.1, momentum=0.9, nesterov=True), [[0.5, 0.25]] * 2)
    first = np.array([0.9 * -0.05 - 0.05, 0.9 * -0.025 - 0.025])
    second = np.array([0.9 * -0.095 - 0.05, 0.9 * -0.0475 - 0.025])
    np.testing.assert_allclose(param, np.array([1.0, -2.0]) + first + second)


def test_rmsprop_two_steps():
    # s1 = 0.1 g^2, so step 1 moves each weight by lr / sqrt(0.1) against its gradient's sign;
    # step 2 with the same g: s2 = 0.19 g^2, a move of lr / sqrt(0.19).
    param = _run(optim.RMSProp(lr=0.01, rho=0.9, eps=1e-12), [[0.5, -0.25]] * 2)
    move = 0.01 / np.sqrt(0.1) + 0.01 / np.sqrt(0.19)
    np.testing.assert_allclose(param, [1.0 - move, -2.0 + move])


def test_adam_without_bias_correction_takes_a_first_step_3_16_times_larger():
    # m1 = 0.1 g and v1 = 0.001 g^2: the step is lr * 0.1 / sqrt(0.001) = lr * 3.16..., not lr.
    param = _run(optim.Adam(lr=0.01, eps=1e-12, bias_correction=False), [[0.5, -0.25]])
    move = 0.01 * 0.1 / np.sqrt(0.001)
    np.testing.assert_allclose(param, [1.0 - move, -2.0 + move])


def test_state_of_returns_the_moments_of_that_parameter():
    weight, bias = np.array([1.0, -2.0]), np.array([3.0])
    optimizer = optim.Adam(lr=0.1)
    optimizer.step([(weight, np.array([0.5, 0.25])), (bias, np.array([-1.0]))])
    state = optimizer.state_of(weight)
    assert state["t"] == 1
    np.testing.assert_allclose(state["m"], [0.05, 0.025])  # (1 - beta1) g
    np.testing.assert_allclose(state["v"], [0.00025, 0.0000625])  # (1 - beta2) g^2
    np.testing.assert_allclose(optimizer.state_of(bias)["m"], [-0.1])


def test_state_of_a_parameter_never_stepped_is_an_error_naming_it():
    optimizer = optim.RMSProp(lr=0.1)
    optimizer.step([(np.zeros(2), np.ones(2))])
    with pytest.raises(KeyError, match=r"param: this RMSProp has no state for an array of shape \(3,\)"):
        optimizer.state_of(np.zeros(3))


def test_adamw_decays_only_the_listed_parameters_before_the_adam_step():
    weight, bias = np.array([2.0]), np.array([2.0])
    zero = np.zeros(1)
    optimizer = optim.AdamW(lr=0.1, weight_decay=0.5, decay=[(weight, zero)])
    optimizer.step([(weight, zero), (bias, zero)])  # a zero gradient: Adam itself moves nothing
    np.testing.assert_allclose(weight, [2.0 * (1 - 0.1 * 0.5)])
    np.testing.assert_allclose(bias, [2.0])


def test_model_penalises_what_its_layers_declare():
    model = nnlib.mlp([2, 3, 1], rng=np.random.default_rng(0), l2=0.1)
    declared = [id(param) for param, _ in model.penalised()]
    assert declared == [id(model.layers[0].params["W"]), id(model.layers[2].params["W"])]
    model.layers[0].params["b"][:] = 1.0
    model.forward(np.ones((4, 2)))
    model.backward(np.zeros((4, 1)))  # no data gradient: what is left is the penalty's
    np.testing.assert_array_equal(model.layers[0].grads["b"], np.zeros(3))
    np.testing.assert_allclose(model.layers[0].grads["W"], 0.1 * model.layers[0].params["W"])


@pytest.mark.parametrize("make", [
    lambda: optim.Momentum(lr=0.1), lambda: optim.Momentum(lr=0.1, nesterov=True),
    lambda: optim.RMSProp(lr=0.1), lambda: optim.Adam(lr=0.1), lambda: optim.AdamW(lr=0.1),
])
def test_state_follows_each_parameter_not_its_position(make):
    grads = {"a": np.array([0.5, -1.0]), "b": np.array([3.0])}
    in_order, swapped = make(), make()
    params_1 = {"a": np.array([1.0, 2.0]), "b": np.array([-1.0])}
    params_2 = {name: value.copy() for name, value in params_1.items()}
    for step in range(5):
        in_order.step([(params_1["a"], grads["a"]), (params_1["b"], grads["b"])])
        pairs = [(params_2["a"], grads["a"]), (params_2["b"], grads["b"])]
        swapped.step(pairs if step % 2 == 0 else pairs[::-1])
    for name in params_1:
        np.testing.assert_array_equal(params_1[name], params_2[name])


def test_mismatched_gradient_shape_is_named():
    with pytest.raises(ValueError, match=r"parameters: a gradient of shape \(3,\) came with a parameter of shape \(2,\)"):
        optim.Adam().step([(np.zeros(2), np.zeros(3))])


@pytest.mark.parametrize("make, message", [
    (lambda: optim.Momentum(momentum=1.0), "momentum must be in [0, 1), got 1.0"),
    (lambda: optim.RMSProp(rho=-0.1), "rho must be in [0, 1), got -0.1"),
    (lambda: optim.Adam(beta2=1), "beta2 must be in [0, 1), got 1"),
    (lambda: optim.AdamW(weight_decay=-1), "weight_decay must be a number >= 0, got -1"),
    (lambda: schedules.step_decay(0), "every must be a positive integer, got 0"),
    (lambda: schedules.step_decay(10, factor=2), "factor must be a number in (0, 1], got 2"),
    (lambda: schedules.cosine(100, final=1.5), "final must be a number in [0, 1], got 1.5"),
    (lambda: schedules.warmup(2.5), "steps must be a positive integer, got 2.5"),
])
def test_bad_hyperparameters_are_named(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_schedules_by_hand():
    assert [schedules.step_decay(2, 0.5)(t) for t in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    np.testing.assert_allclose([schedules.cosine(4, final=0.2)(t) for t in (0, 2, 4, 9)], [1, 0.6, 0.2, 0.2])
    warm = schedules.warmup(4, then=schedules.step_decay(1, 0.5))
    assert [warm(t) for t in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 0.5]


def test_scheduled_sets_the_rate_before_each_step():
    param, grad = np.array([0.0]), np.array([1.0])
    optimizer = optim.Scheduled(optim.SGD(lr=0.1), schedules.warmup(2))
    for _ in range(3):
        optimizer.step([(param, grad)])
    np.testing.assert_allclose(param, [-(0.05 + 0.1 + 0.1)])
    assert optimizer.optimizer.lr == 0.1 and optimizer.base_lr == 0.1


# Against PyTorch: the same parameters, gradients of the same function, many steps.

def _quadratic_gradients(params):
    """Gradient of sum_i c_i (p_i - 1)^2 + sin(p_i), an ill-conditioned bumpy bowl."""
    return [2 * scale * (p - 1) + np.cos(p) for scale, p in zip((10.0, 0.1), params)]


TORCH_CASES = {
    "sgd": (lambda: optim.SGD(lr=0.02), lambda torch, ps: torch.optim.SGD(ps, lr=0.02)),
    "momentum": (lambda: optim.Momentum(lr=0.02, momentum=0.9),
                 lambda torch, ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9)),
    "nesterov": (lambda: optim.Momentum(lr=0.02, momentum=0.9, nesterov=True),
                 lambda torch, ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9, nesterov=True)),
    "rmsprop": (lambda: optim.RMSProp(lr=0.01, rho=0.9), lambda torch, ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9)),
    "adam": (lambda: optim.Adam(lr=0.05), lambda torch, ps: torch.optim.Adam(ps, lr=0.05)),
    "adamw": (lambda: optim.AdamW(lr=0.05, weight_decay=0.1),
              lambda torch, ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.1)),
}


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed; it is only a reference for these tests")


def _compare_with_torch(ours, theirs, schedule=None, torch_scheduler=None, steps=200):
    torch = _torch()
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    tensors = [torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True) for p in params]
    optimizer = ours() if schedule is None else optim.Scheduled(ours(), schedule)
    reference = theirs(torch, tensors)
    scheduler = None if torch_scheduler is None else torch_scheduler(torch, reference)
    for _ in range(steps):
        grads = _quadratic_gradients(params)
        optimizer.step(list(zip(params, grads)))
        for tensor, grad in zip(tensors, _quadratic_gradients([t.detach().numpy() for t in tensors])):
            tensor.grad = torch.tensor(grad)
        reference.step()
        if scheduler is not None:
            scheduler.step()
    for param, tensor in zip(params, tensors):
        np.testing.assert_allclose(param, tensor.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch_optim(name):
    _compare_with_torch(*TORCH_CASES[name])


@pytest.mark.parametrize("name, schedule, torch_scheduler", [
    ("step", schedules.step_decay(30, 0.5), lambda torch, o: torch.optim.lr_scheduler.StepLR(o, 30, 0.5)),
    ("cosine", schedules.cosine(200, final=0.1),
     lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=200, eta_min=0.1 * 0.05)),
    ("warmup+cosine", schedules.warmup(20, then=schedules.cosine(180)),
     lambda torch, o: torch.optim.lr_scheduler.SequentialLR(o, [
         torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 20, end_factor=1.0, total_iters=19),
         torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=180)], milestones=[20])),
])
def test_schedules_match_torch(name, schedule, torch_scheduler):
    ours, theirs = TORCH_CASES["adam"]
    _compare_with_torch(ours, theirs, schedule, torch_scheduler)
