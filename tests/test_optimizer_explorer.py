"""The optimizer explorer's Python side: nnlib's ravine paths, the x·sin(x) runs, the live widget, its data.

The page's own trajectories are compared with these in tests/browser/test_optimizer_explorer_browser.py.
"""
import numpy as np
import pytest

import explorers
from explorers import optimization, precompute
from explorers.widgets import OptimizerExplorer
from test_explorers import run_live


def test_gradient_descent_on_the_ravine_shrinks_each_weight_by_its_own_factor():
    """w_t = (1 - lr * lambda)^t * w_0, coordinate by coordinate: the closed form of the chapter."""
    lr, steps = 0.3, 40
    path = optimization.trajectory("sgd", lr, steps)
    factors = 1 - lr * np.array(optimization.RAVINE["curvatures"])
    expected = np.array(optimization.RAVINE["start"]) * factors ** np.arange(steps + 1)[:, None]
    np.testing.assert_allclose(path, expected, rtol=1e-12)


def test_adams_first_step_moves_each_weight_by_the_learning_rate_against_its_gradient_sign():
    lr = 0.1
    start = np.array(optimization.RAVINE["start"])
    grad = np.array(optimization.RAVINE["curvatures"]) * start
    first = optimization.trajectory("adam", lr, 1)[1]
    np.testing.assert_allclose(first, start - lr * grad / (np.abs(grad) + optimization.HYPER["eps"]), rtol=1e-15)
    decayed = optimization.trajectory("adamw", lr, 1)[1]
    shrunk = start * (1 - lr * optimization.HYPER["weight_decay"])
    np.testing.assert_allclose(decayed, shrunk - lr * grad / (np.abs(grad) + optimization.HYPER["eps"]), rtol=1e-15)


def test_heavy_ball_first_two_steps_by_hand():
    lr, beta = 0.1, optimization.HYPER["momentum"]
    c, w0 = np.array(optimization.RAVINE["curvatures"]), np.array(optimization.RAVINE["start"])
    v1 = -lr * c * w0
    w1 = w0 + v1
    w2 = w1 + beta * v1 - lr * c * w1
    np.testing.assert_allclose(optimization.trajectory("momentum", lr, 2), [w0, w1, w2], rtol=1e-14)


def test_momentum_reaches_the_minimum_faster_than_gradient_descent_at_the_same_rate():
    plain, heavy = (np.linalg.norm(optimization.trajectory(name, 0.3)[-1]) for name in ("sgd", "momentum"))
    assert heavy < plain / 10, (plain, heavy)


def test_an_unknown_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match=r"optimizer must be one of \[.*'adam'.*\], got 'adagrad'"):
        optimization.make_optimizer("adagrad", 0.1)


def test_the_learning_rate_decides_the_x_sin_x_fit():
    """Too small barely moves, a middle rate fits, too large stalls or diverges (the lesson on the page)."""
    small, good = (optimization.run_fit("momentum", lr)["train_mse"] for lr in (0.001, 0.01))
    assert good < small / 10, (small, good)
    diverged = optimization.run_fit("nesterov", 1.0)
    assert diverged["diverged_at"] is not None and diverged["train_mse"] is None
    assert len(diverged["log10_loss"]) == len(diverged["loss_epochs"]) and all(
        np.isfinite(diverged["log10_loss"]))


def test_the_live_widget_trains_the_fit_the_website_stores():
    widget = OptimizerExplorer(optimizer="adam", lr=0.03)
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="fit")
    assert widget.wait()
    fit = {name: value for name, value in widget.fit.items() if name != "settings"}
    doc = precompute.load("optimizer")
    assert precompute._quantize(fit, doc["scale"]) == doc["fits"]["adam|0.03"]
    assert widget.fit["settings"] == {"lr": 0.03, "optimizer": "adam"}
    assert fit["epoch"] == fit["epochs"] == optimization.FIT_EPOCHS


def test_a_new_learning_rate_redraws_while_training_then_finishes():
    widget = OptimizerExplorer(optimizer="sgd", lr=0.1)
    widget.wait()
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="fit")
    widget.lr = 0.03
    widget.wait()
    assert len(seen) >= 2 and seen[0]["epoch"] < optimization.FIT_EPOCHS == seen[-1]["epoch"]
    assert all(fit["settings"]["lr"] == 0.03 for fit in seen)


def test_the_static_html_loads_the_explorers_own_script_after_the_shared_one(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    html = explorers.optimizer()._repr_html_()
    assert html.index('"_static/explorers.js"') < html.index('"_static/optimizer.js"')
    assert '"_static/explorers-data/optimizer.js"' in html and 'type="module"' not in html


def test_the_page_gets_every_number_it_computes_with_from_the_data():
    doc = precompute.load("optimizer")
    assert doc["state"]["data"] == optimization.page_data()
    assert doc["state"]["options"]["optimizer"] == optimization.OPTIMIZER_NAMES
    assert doc["state"]["options"]["lr"] == optimization.LEARNING_RATES


def test_the_live_optimizer_explorer_runs_in_a_real_jupyter_kernel():
    """nbclient drives an ipykernel: the widget trains there, and its module carries the page's renderer."""
    notebook, model = run_live([
        "import explorers\n"
        "widget = explorers.optimizer(live=True, optimizer='sgd', lr=0.001)\n"
        "widget.wait()\n"
        "slow = widget.fit['train_mse']\n"
        "widget",
        "widget.optimizer = 'momentum'\n"
        "widget.lr = 0.01\n"
        "widget.wait()\n"
        "print(widget.fit['settings']['optimizer'], widget.fit['epoch'], widget.fit['train_mse'] < slow / 10)",
    ], timeout=120)
    assert notebook.cells[1].outputs[0]["text"].split() == ["momentum", str(optimization.FIT_EPOCHS), "True"]
    assert model["kind"] == "optimizer" and model["lr"] == 0.01
    assert model["data"] == optimization.page_data()
    from explorers import widgets
    assert 'register("optimizer", renderOptimizer)' in widgets.ESM and widgets.ESM.rstrip().endswith("};")
