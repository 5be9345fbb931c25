"""The explorers' Python side: static HTML, live widgets (training, cancelling, caching), data files.

The browser side is tested on the built site in tests/browser/test_explorers_browser.py.
"""
import json
import time

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import explorers
import nnlib
from explorers import fits, precompute
from explorers.widgets import ActivationExplorer, HiddenUnitsExplorer, RegularizationExplorer

DATA = precompute.DATA_DIR


def stored(kind):
    return precompute.load(kind)


def record_fits(widget):
    """A list that receives every value the widget's `fit` trait takes from now on."""
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="fit")
    return seen


# --- How a chapter cell displays -----------------------------------------------------------

@pytest.mark.parametrize("kind", explorers.KINDS)
def test_outside_jupyter_the_call_gives_the_websites_html(kind, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    shown = getattr(explorers, kind)()
    html = shown._repr_html_()
    assert isinstance(shown, explorers.StaticExplorer)
    # Classic scripts only: a page opened from file:// may not import modules or fetch.
    assert "<script>" in html and 'type="module"' not in html
    assert "import(" not in html and "fetch(" not in html
    assert '"_static/explorers.js"' in html
    assert f'"_static/explorers-data/{kind}.js"' in html
    assert f'id="{shown.element_id}"' in html and f'getElementById("{shown.element_id}")' in html


def test_each_static_explorer_gets_its_own_element_id(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert explorers.hidden_units().element_id != explorers.hidden_units().element_id


def test_a_notebook_kernel_of_a_jupyter_server_gets_the_live_widget(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "book/08_architecture.ipynb")
    widget = explorers.activation()
    widget.wait()
    assert isinstance(widget, ActivationExplorer)


def test_initial_controls_without_a_kernel_fail_with_a_hint(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(ValueError, match="live=True"):
        explorers.hidden_units(units=4)


# --- Live widgets ---------------------------------------------------------------------------

def test_hidden_units_widget_trains_to_the_end_and_reports_what_it_draws():
    widget = HiddenUnitsExplorer(units=16)
    assert widget.wait()
    fit = widget.fit
    assert fit["epoch"] == fit["epochs"] == fits.CURVE_EPOCHS
    assert len(fit["y"]) == len(widget.data["x"]) == fits.NUM_CURVE
    assert fit["params"] == 3 * 16 + 1  # 16 weights, 16 biases in, 16 weights + 1 bias out
    assert 0 < len(fit["hinges"]) <= 16 and all(-10 <= x <= 10 for x in fit["hinges"])
    assert fit["loss_epochs"][-1] == fits.CURVE_EPOCHS and len(fit["log10_loss"]) == len(fit["loss_epochs"])


def test_changing_the_units_redraws_during_training_and_improves_the_fit():
    widget = HiddenUnitsExplorer(units=1)
    widget.wait()
    before = widget.fit
    seen = record_fits(widget)
    widget.units = 16
    widget.wait()
    assert len(seen) >= 2, "expected a first redraw while training, then the final fit"
    assert seen[0]["epoch"] < fits.CURVE_EPOCHS and seen[-1]["epoch"] == fits.CURVE_EPOCHS
    assert seen[-1]["y"] != before["y"]
    assert seen[-1]["test_mse"] < before["test_mse"]


def test_a_new_setting_cancels_the_running_fit():
    widget = HiddenUnitsExplorer(units=64, layers=4, activation="swish")
    time.sleep(0.05)
    slow_fit = widget._thread
    seen = record_fits(widget)
    widget.units = 1
    slow_fit.join(2.0)
    assert not slow_fit.is_alive(), "the cancelled fit kept training"
    widget.wait()
    small = 3 * 1 + 1 + 3 * (1 * 1 + 1)  # 1-1-1-1-1-1 network
    first_small = next(i for i, fit in enumerate(seen) if fit["params"] == small)
    assert all(fit["params"] == small for fit in seen[first_small:]), "the cancelled fit drew after the new one"
    assert widget.fit["params"] == small and widget.fit["epoch"] == fits.CURVE_EPOCHS
    assert list(widget.cache) == [tuple(widget.settings().items())], "a cancelled fit was cached"


def test_a_setting_seen_before_is_shown_from_the_cache_without_training():
    widget = HiddenUnitsExplorer(units=2)
    widget.wait()
    first = widget.fit
    widget.units = 3
    widget.wait()
    thread = widget._thread
    widget.units = 2
    assert widget.fit is first, "the cached fit should be shown at once"
    assert widget._thread is thread, "no new training should start"


def test_two_controls_changed_together_start_one_fit():
    widget = HiddenUnitsExplorer(units=2)
    widget.wait()
    runs = []
    run = widget._run
    widget._run = lambda settings, report: (runs.append(settings), run(settings, report))[1]
    with widget.hold_trait_notifications():  # how ipywidgets applies one message from the browser
        widget.units, widget.layers = 4, 2
    widget.wait()
    assert runs == [widget.settings()]
    assert widget.fit["params"] == 1 * 4 + 4 + 4 * 4 + 4 + 4 + 1


def test_a_diverging_fit_is_reported_instead_of_drawn():
    widget = HiddenUnitsExplorer(units=2)
    widget.wait()

    def diverge(settings, report):
        raise nnlib.TrainingDiverged("the loss became nan at epoch 3", nnlib.History())

    widget._run = diverge
    widget.units = 5
    widget.wait()
    assert widget.fit == {"error": "training diverged: the loss became nan at epoch 3", "settings": widget.settings()}


def test_live_fit_equals_the_websites_precomputed_fit():
    widget = HiddenUnitsExplorer(units=16, layers=1, activation="relu", seed=0)
    widget.wait()
    doc = stored("hidden_units")
    live = {name: value for name, value in widget.fit.items() if name != "settings"}
    assert precompute._quantize(live, doc["scale"]) == doc["fits"]["relu|1|16|0"]


def test_every_fit_the_widget_pushes_names_the_setting_it_was_trained_for():
    """Rapid moves: each fit on screen carries its own setting, so the readout cannot describe another one."""
    widget = HiddenUnitsExplorer(units=1)
    seen = record_fits(widget)
    for units in (2, 8, 3, 32, 5, 16, 4, 64, 12):
        widget.units = units
        time.sleep(0.02)
    widget.wait()
    assert seen, "no fit was pushed"
    for fit in seen:
        units, layers = fit["settings"]["units"], fit["settings"]["layers"]
        assert fit["params"] == 3 * units + 1 + (layers - 1) * units * (units + 1), fit["settings"]
    assert seen[-1]["settings"] == widget.settings()


def test_activation_widget_follows_its_activation_and_parameter():
    widget = ActivationExplorer(activation="sigmoid")
    widget.wait()
    assert widget.fit["df_max"] == pytest.approx(0.25, abs=1e-3)
    assert widget.fit["saturated_fraction"] > 0.3
    widget.activation, widget.param = "leaky_relu", 0.2
    widget.wait()
    assert min(widget.fit["df"]) == pytest.approx(0.2)
    assert widget.fit["saturated_fraction"] == 0.0


def test_regularization_widget_redraws_regions_for_a_new_l2():
    widget = RegularizationExplorer()
    widget.wait()
    before = widget.fit
    assert len(before["regions"]) == fits.NUM_REGION**2
    widget.l2 = 0.03
    widget.wait()
    after = widget.fit
    assert after["regions"] != before["regions"]
    assert after["weight_norm"] < before["weight_norm"]


def run_live(cells, timeout=60):
    """Run ``cells`` (sources; the first one's value is a widget) in a real ipykernel via nbclient.

    Returns the executed notebook and the first cell's widget model state as the kernel saved it.
    """
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(notebook, timeout=timeout, kernel_name="python3").execute()
    view = notebook.cells[0].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in view
    states = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return notebook, states[view["application/vnd.jupyter.widget-view+json"]["model_id"]]["state"]


def test_the_live_explorer_runs_in_a_real_jupyter_kernel():
    """nbclient drives an ipykernel: the widget trains there and a wider net fits better."""
    notebook, model = run_live([
        "import explorers\n"
        "widget = explorers.hidden_units(live=True, units=2)\n"
        "widget.wait()\n"
        "before = widget.fit['test_mse']\n"
        "widget",
        "widget.units = 16\n"
        "widget.wait()\n"
        "after = widget.fit['test_mse']\n"
        "print(widget.fit['params'], widget.fit['epoch'], after < before)",
    ])
    assert notebook.cells[1].outputs[0]["text"].split() == ["49", str(fits.CURVE_EPOCHS), "True"]
    assert model["units"] == 16 and model["fit"]["params"] == 49


# --- The website's data files ---------------------------------------------------------------

# --- Fit quality of the shipped hidden-units data (issue 12 section 2) ----------------------

def median_train_mse_by_width(activation, layers, train_mse=None):
    """{units: median over the stored seeds of the fit's training MSE}.

    train_mse(key) gives the training MSE of the fit with key "activation|layers|units|seed";
    by default the shipped fit's (tests/browser/test_js_trainer.py passes the in-page fits').
    """
    doc = stored("hidden_units")
    options = doc["state"]["options"]
    if train_mse is None:
        train_mse = lambda key: doc["fits"][key]["train_mse"]  # noqa: E731
    return {units: float(np.median([train_mse(f"{activation}|{layers}|{units}|{seed}") for seed in options["seed"]]))
            for units in options["units"]}


def check_wider_is_not_worse(medians):
    """More units never raise the median training error by more than noise: next <= 1.25 x previous + 0.02."""
    widths = sorted(medians)
    assert widths == fits.HIDDEN_UNITS_OPTIONS["units"]
    for narrow, wide in zip(widths, widths[1:]):
        assert medians[wide] <= 1.25 * medians[narrow] + 0.02, (narrow, wide, medians)


def check_one_relu_layer_fits_the_curve(medians):
    """Median training MSE of one ReLU layer: at most 1.0 at 12 units, 0.3 at 16, 0.15 from 32 up."""
    assert medians[12] <= 1.0 and medians[16] <= 0.3, medians
    assert all(medians[units] <= 0.15 for units in medians if units >= 32), medians


@pytest.mark.parametrize("layers", fits.HIDDEN_UNITS_OPTIONS["layers"])
@pytest.mark.parametrize("activation", fits.HIDDEN_UNITS_OPTIONS["activation"])
def test_wider_is_not_worse_in_the_shipped_fits(activation, layers):
    check_wider_is_not_worse(median_train_mse_by_width(activation, layers))


def test_one_relu_layer_fits_the_curve_in_the_shipped_data():
    check_one_relu_layer_fits_the_curve(median_train_mse_by_width("relu", 1))


def test_the_reference_is_the_least_squares_fit_of_a_network_with_evenly_spaced_hinges():
    """solve_output_layer on a 1-n-1 ReLU network whose hinges sit at the reference's points gives its MSE."""
    data = fits.curve_data()
    x, y = data["x_train"][:, None] / fits.X_SCALE, data["y_train"][:, None]
    for units, expected in [(8, 1.2885), (16, 0.0879), (32, 0.0055)]:  # measured once, see bench_fits.py
        model = nnlib.mlp([1, units, 1], "relu", rng=np.random.default_rng(0))
        model.layers[0].params["W"][:] = 1.0
        model.layers[0].params["b"][:] = -np.linspace(-1.0, 1.0, units + 1)[:-1]
        solved = nnlib.solve_output_layer(model, x, y)
        assert solved == pytest.approx(fits.reference_mse(units, x, y), rel=1e-6)
        assert solved == pytest.approx(nnlib.losses.mse(model.predict(x), y)[0], rel=1e-12)
        assert fits.reference_mse(units, x, y) == pytest.approx(expected, abs=6e-5)


def test_the_recipe_starts_from_the_least_squares_output_and_beats_it():
    """Before any step the output layer is the least-squares one; moving the hinges then lowers the error."""
    data = fits.curve_data()
    x, y = data["x_train"][:, None] / fits.X_SCALE, data["y_train"][:, None]
    model = fits.curve_model(16, 1, "relu", 0)
    start = nnlib.solve_output_layer(fits.curve_model(16, 1, "relu", 0), x, y)
    history = fits.train_curve(model, x, y)
    assert history.loss[0] == pytest.approx(start, rel=1e-12)
    assert history.loss[-1] < start / 5
    assert nnlib.losses.mse(model.predict(x), y)[0] < fits.reference_mse(16, x, y) * 2


def test_solve_output_refuses_a_loss_it_cannot_solve():
    model = nnlib.mlp([2, 4, 2], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="solve_output=True needs loss='mse'.*softmax_cross_entropy"):
        nnlib.fit(model, np.zeros((3, 2)), np.array([0, 1, 0]), loss="softmax_cross_entropy", solve_output=True)
    with pytest.raises(ValueError, match=r"y must have shape \(3, 2\).*got \(3,\)"):
        nnlib.solve_output_layer(model, np.zeros((3, 2)), np.zeros(3))


def test_javascript_keys_are_built_the_way_javascript_prints_numbers():
    assert [precompute.js_str(v) for v in (0.0, 1.0, 16, 0.0003, 0.25, None, "relu")] == [
        "0", "1", "16", "0.0003", "0.25", "null", "relu"]
    with pytest.raises(ValueError):
        precompute.js_str(1e-5)


@pytest.mark.parametrize("kind", explorers.KINDS)
def test_data_file_holds_every_setting_and_stays_under_a_megabyte(kind):
    path = precompute.data_path(kind)
    doc = precompute.load(kind)
    assert path.stat().st_size < 1_000_000
    assert sorted(doc["fits"]) == sorted(precompute.all_keys(kind))
    assert doc["state"]["fit"] == doc["fits"][precompute.fit_key(doc["state"], doc["key"])]


SAMPLE = {"hidden_units": 3, "activation": 27, "regularization": 2, "optimizer": 3}


@pytest.mark.parametrize("kind", explorers.KINDS)
def test_regenerating_a_sample_of_the_data_gives_the_same_numbers(kind):
    """A seeded random sample of the fits, recomputed and compared exactly (the full check is slow)."""
    keys = precompute.all_keys(kind)
    sample = sorted(np.random.default_rng(2026).choice(keys, size=min(SAMPLE[kind], len(keys)), replace=False))
    fresh = json.loads(precompute.dumps(precompute.build(kind, only=sample)))
    doc = stored(kind)
    assert {key: doc["fits"][key] for key in sample} == fresh["fits"]
    assert {k: v for k, v in doc["state"].items() if k != "fit"} == {
        k: v for k, v in fresh["state"].items() if k != "fit"}


def test_check_mode_reports_stale_data(tmp_path, monkeypatch):
    """`python -m explorers.precompute --check` (the full, minutes-long regeneration) fails on a stale file."""
    monkeypatch.setattr(precompute, "DATA_DIR", tmp_path)
    (tmp_path / "activation.js").write_text("{}\n")
    monkeypatch.setattr("sys.argv", ["precompute", "--check", "activation"])
    with pytest.raises(SystemExit, match="stale data: activation"):
        precompute.main()
    assert (tmp_path / "activation.js").read_text() == "{}\n"  # --check writes nothing


def test_a_data_script_reads_back_as_the_document_it_was_written_from(tmp_path):
    document = {"kind": "activation", "fits": {"relu|0": {"y": [1, -2]}}}
    precompute.data_path("activation", tmp_path).write_text(precompute.script("activation", document))
    assert precompute.load("activation", tmp_path) == document


def test_a_data_script_filed_under_another_kind_is_refused(tmp_path):
    precompute.data_path("hidden_units", tmp_path).write_text(precompute.script("activation", {}))
    with pytest.raises(ValueError, match="not an explorer data script for 'hidden_units'"):
        precompute.load("hidden_units", tmp_path)

