"""The in-page trainer (explorers/static/trainer.js) against nnlib, in headless Chromium.

A page holding only trainer.js and its data script (explorers-data/hidden_units_init.js)
is opened from disk (file://) and served from 127.0.0.1. From the same starting weights
the JavaScript forward pass, gradients and one step of the recipe (Adam on the hidden
layers, least-squares output layer) agree with nnlib to 1e-9, and 100 steps of a
one-hidden-layer network to 1e-6, both relative to the largest entry of nnlib's array
(an entry that nnlib computes as 1e-17 by cancellation has no relative digits to keep).
Over the whole run the two part ways (training is chaotic), so there the JS-trained
fits must pass the same fit-quality checks as the shipped ones.
"""
import contextlib
import shutil

import numpy as np
import pytest

import nnlib
from explorers import fits, precompute, trainer_data
from conftest import MODES
from test_explorers import check_one_relu_layer_fits_the_curve, check_wider_is_not_worse, median_train_mse_by_width

pytestmark = pytest.mark.browser

STATIC = precompute.DATA_DIR.parent
OPTIONS = fits.HIDDEN_UNITS_OPTIONS
SOLVE_RTOL = 1e-7  # the least-squares output layer's fitted curve (see the test that uses it)
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>trainer</title>
<script src="trainer.js"></script><script src="explorers-data/hidden_units_init.js"></script>
</head><body><p>trainer test page</p></body></html>"""


@pytest.fixture(scope="module")
def trainer_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trainer")
    (folder / "explorers-data").mkdir()
    shutil.copy(STATIC / "trainer.js", folder / "trainer.js")
    shutil.copy(precompute.data_path(trainer_data.KIND), folder / "explorers-data")
    (folder / "index.html").write_text(PAGE)
    return folder


@pytest.fixture(scope="module")
def open_trainer_page(trainer_folder, load_url, serve_directory):
    """open_trainer_page(mode): a context manager giving the trainer page, from disk or served."""

    @contextlib.contextmanager
    def open_(mode):
        with serve_directory(trainer_folder) as url:
            address = (trainer_folder / "index.html").as_uri() if mode == "file" else url + "index.html"
            context, page, problems = load_url(address)
            assert page.evaluate("() => typeof nnTrainer === 'object' && 'hidden_units_init' in nnExplorersData")
            yield page
            assert not problems, problems.report()
            context.close()

    return open_


@pytest.fixture(scope="module", params=MODES)
def page(request, open_trainer_page):
    with open_trainer_page(request.param) as page:
        yield page


def assert_close(js, py, rtol, what):
    js, py = np.asarray(js, dtype=float), np.asarray(py, dtype=float).ravel()
    assert js.shape == py.shape, (what, js.shape, py.shape)
    error = np.max(np.abs(js - py)) / max(np.max(np.abs(py)), 1e-300)
    assert error <= rtol, f"{what}: relative difference {error:.3g} > {rtol}"


def training_set():
    data = fits.curve_data()
    return data["x_train"][:, None] / fits.X_SCALE, data["y_train"][:, None]


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, nnlib.layers.Dense)]


RUN_JS = """([setting, steps, options]) => {
  const run = nnTrainer.createRun(setting, options);
  const solved = run.net.layers.map((layer) => [Array.from(layer.W), Array.from(layer.b)]);
  const losses = [];
  for (let t = 0; t < steps; t += 1) losses.push(run.step());
  const snapshot = run.snapshot();
  return { solved, losses, after: run.net.layers.map((layer) => [Array.from(layer.W), Array.from(layer.b)]),
           y: snapshot.y, train_mse: snapshot.train_mse };
}"""


@pytest.mark.parametrize("units", [1, 8, 64])
def test_starting_weights_are_nnlibs_bit_for_bit(page, units):
    for activation in OPTIONS["activation"]:
        for layers in OPTIONS["layers"]:
            for seed in OPTIONS["seed"]:
                js = page.evaluate("(s) => nnTrainer.initialWeights(s.units, s.layers, s.activation, s.seed).weights"
                                   ".map(([W, b]) => [Array.from(W), Array.from(b)])",
                                   {"units": units, "layers": layers, "activation": activation, "seed": seed})
                model = fits.curve_model(units, layers, activation, seed)
                for (W, b), layer in zip(js, dense_layers(model), strict=True):
                    assert np.array_equal(W, layer.params["W"].ravel()) and np.array_equal(b, layer.params["b"])


@pytest.mark.parametrize("layers", OPTIONS["layers"])
@pytest.mark.parametrize("activation", OPTIONS["activation"])
def test_forward_gradients_and_one_step_agree_with_nnlib(page, activation, layers):
    units, seed = 8, 1
    x, y = training_set()
    setting = {"units": units, "layers": layers, "activation": activation, "seed": seed}
    # Forward pass and gradients at the starting weights (output layer as drawn).
    model = fits.curve_model(units, layers, activation, seed)
    output = model.forward(x, training=True)
    model.backward(nnlib.losses.mse(output, y)[1])
    js = page.evaluate("""(s) => {
      const { sizes, weights } = nnTrainer.initialWeights(s.units, s.layers, s.activation, s.seed);
      const doc = nnExplorersData.hidden_units_init;
      const net = nnTrainer.createNetwork(sizes, s.activation, doc.activation_params[s.activation], weights);
      const x = nnTrainer.unpack(doc.data.x_train).map((v) => v / doc.recipe.x_scale);
      const y = nnTrainer.unpack(doc.data.y_train);
      const out = nnTrainer.forward(net, x, y.length);
      nnTrainer.backward(net, nnTrainer.mse(out, y)[1], y.length);
      return { out: Array.from(out), grads: net.layers.map((l) => [Array.from(l.dW), Array.from(l.db)]) };
    }""", setting)
    assert_close(js["out"], output, 1e-9, "forward")
    for index, ((dW, db), layer) in enumerate(zip(js["grads"], dense_layers(model), strict=True)):
        assert_close(dW, layer.grads["W"], 1e-9, f"dW of layer {index + 1}")
        assert_close(db, layer.grads["b"], 1e-9, f"db of layer {index + 1}")
    # Adam's update from the same weights and gradients, at the recipe's first learning rate.
    optimizer = fits.curve_optimizer()
    hidden = [pair for layer in dense_layers(model)[:-1] for pair in zip(layer.params.values(), layer.grads.values())]
    before = [(param.tolist(), grad.tolist()) for param, grad in hidden]
    optimizer.step(hidden)
    js = page.evaluate("""([slots, lr]) => {
      const doc = nnExplorersData.hidden_units_init;
      const state = slots.map(([param, grad]) => ({ param: Float64Array.from(param.flat()),
        grad: Float64Array.from(grad.flat()), m: new Float64Array(param.flat().length),
        v: new Float64Array(param.flat().length) }));
      nnTrainer.adamStep(state, 1, lr * nnTrainer.cosine(0, doc.recipe.epochs, doc.recipe.cosine_final), doc.recipe);
      return state.map((slot) => Array.from(slot.param));
    }""", [before, fits.CURVE_LR])
    for index, (param, (updated, _)) in enumerate(zip(js, hidden, strict=True)):
        assert_close(param, updated, 1e-9, f"hidden parameter {index + 1} after one Adam update")
    # The least-squares output layer (nnlib.solve_output_layer) on the starting hidden layers.
    # Its normal equations are ill-conditioned (the ridge is only 1e-9 of the features' scale:
    # near-duplicate units make them nearly singular), so two correct solvers give coefficients
    # that differ from the 7th digit on and fitted curves that differ by up to about 3e-8 of
    # the curve's scale (measured over these settings): this step is held to SOLVE_RTOL.
    model = fits.curve_model(units, layers, activation, seed)
    solved_mse = nnlib.solve_output_layer(model, x, y)
    js = page.evaluate(RUN_JS, [setting, 0, {}])
    assert_close(js["y"], model.predict(fits.curve_data()["x"][:, None] / fits.X_SCALE), SOLVE_RTOL, "solved fit")
    assert_close([js["train_mse"]], [solved_mse], SOLVE_RTOL, "training MSE after the solve")
    for (W, b), layer in zip(js["after"][:-1], dense_layers(model)[:-1], strict=True):
        assert np.array_equal(W, layer.params["W"].ravel()) and np.array_equal(b, layer.params["b"])


@pytest.mark.parametrize("activation", OPTIONS["activation"])
def test_a_hundred_adam_steps_of_one_hidden_layer_agree_with_nnlib(page, activation):
    """Adam on every layer, no solve (the solve's ill-conditioning would compound each step)."""
    units, seed, steps = 16, 0, 100
    x, y = training_set()
    model = fits.curve_model(units, 1, activation, seed)
    history = nnlib.fit(model, x, y, loss="mse", optimizer=fits.curve_optimizer(), epochs=steps)
    js = page.evaluate(RUN_JS, [{"units": units, "layers": 1, "activation": activation, "seed": seed}, steps,
                                {"solveOutput": False}])
    assert_close(js["losses"], history.loss, 1e-6, "loss curve")
    for index, ((W, b), layer) in enumerate(zip(js["after"], dense_layers(model), strict=True)):
        assert_close(W, layer.params["W"], 1e-6, f"W of layer {index + 1} after {steps} steps")
        assert_close(b, layer.params["b"], 1e-6, f"b of layer {index + 1} after {steps} steps")
    curve = model.predict(fits.curve_data()["x"][:, None] / fits.X_SCALE)
    assert_close(js["y"], curve, 1e-6, "fitted curve")


@pytest.fixture(scope="module")
def served_page(open_trainer_page):
    with open_trainer_page("http") as page:
        yield page


@pytest.fixture(scope="module")
def js_train_mse(served_page):
    """train_mse(key) of the fit trained in the page by the whole recipe (run once per key)."""
    page, cache = served_page, {}

    def train_mse(key):
        if key not in cache:
            activation, layers, units, seed = key.split("|")
            cache[key] = page.evaluate("""(s) => {
              const run = nnTrainer.createRun(s);
              while (!run.done()) run.step();
              return run.snapshot().train_mse;
            }""", {"activation": activation, "layers": int(layers), "units": int(units), "seed": int(seed)})
        return cache[key]

    return train_mse


@pytest.mark.parametrize("layers", OPTIONS["layers"])
@pytest.mark.parametrize("activation", OPTIONS["activation"])
def test_fits_trained_in_the_page_pass_the_shipped_fits_quality_checks(js_train_mse, activation, layers):
    medians = median_train_mse_by_width(activation, layers, train_mse=js_train_mse)
    check_wider_is_not_worse(medians)
    if (activation, layers) == ("relu", 1):
        check_one_relu_layer_fits_the_curve(medians)


# --- The explorer's in-page training on the built site ----------------------------------

HOST = ".nn-explorer[data-explorer=hidden_units]"


def press(page, button, key="Enter"):
    """Press a button from the keyboard, as a keyboard user would."""
    button.focus()
    page.keyboard.press(key)


def shown(host):
    return {"curve": host.locator("svg path[stroke='#0072B2']").get_attribute("d"),
            "loss": host.locator("svg path[stroke='#009E73']").get_attribute("d"),
            "readout": host.locator(".nnx-readout").inner_text(),
            "title": host.locator("svg title").text_content()}


@pytest.mark.parametrize("mode", MODES)
def test_the_explorer_trains_in_the_page_from_the_keyboard(open_site_page, mode):
    page, problems = open_site_page("book/explorers.html", mode)
    host = page.locator(HOST).first
    play = host.get_by_role("button", name="Train in the page")
    step = host.get_by_role("button", name="Step one epoch")
    reset = host.get_by_role("button", name="Reset to the start")
    speed = host.get_by_label("Epochs per frame")
    page.wait_for_function(f"() => !document.querySelector('{HOST} button').disabled")
    precomputed = shown(host)
    assert "after 300 epochs" in precomputed["readout"] and "in this page" not in precomputed["readout"]

    # One step at a time: the readout, the picture's description, the curve and the loss move together.
    press(page, step)
    first = shown(host)
    assert "epoch 1 of 300 in this page" in first["readout"] and "epoch 1 of 300 in this page" in first["title"]
    assert first["curve"] != precomputed["curve"]
    for _ in range(4):
        press(page, step, "Space")
    fifth = shown(host)
    assert "epoch 5 of 300 in this page" in fifth["readout"]
    assert len(fifth["loss"]) > len(first["loss"]) and fifth["curve"] != first["curve"]

    # Playing at one epoch per frame (300 frames), then pausing: whatever epoch the readout
    # names, the curve drawn is the one that epoch's state gives when stepped to one by one.
    speed.focus()
    page.keyboard.press("ArrowDown")
    assert speed.input_value() == "1"
    toggle = host.locator("button[aria-pressed]")
    press(page, play)
    assert toggle.get_attribute("aria-pressed") == "true" and toggle.inner_text() == "Pause"
    page.wait_for_timeout(300)
    press(page, toggle)
    assert toggle.get_attribute("aria-pressed") == "false"
    paused = shown(host)
    epoch = int(paused["readout"].split("epoch ")[1].split(" ")[0])
    assert 5 < epoch < 300, paused["readout"]
    press(page, reset)
    assert "epoch 0 of 300 in this page" in shown(host)["readout"]
    for _ in range(epoch):
        step.click()
    assert shown(host) == paused

    # A new setting discards the run and shows its precomputed fit.
    units = host.get_by_label("Hidden units per layer")
    units.focus()
    page.keyboard.press("ArrowRight")
    moved = shown(host)
    assert "after 300 epochs" in moved["readout"] and "in this page" not in moved["readout"]
    assert not problems, problems.report()
