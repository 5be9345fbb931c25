"""The experiments behind the three explorers, shared by the live widgets and the precompute.

Each ``run_*`` function is deterministic for its settings: the live explorer in
Jupyter and the fits stored for the website come from the same call, so the
curve a reader sees at the end of a live fit is the one the static page shows.

A ``run_*`` function takes an optional ``report(epoch, snapshot)`` callback,
called after every epoch; ``snapshot()`` returns the state so far in the form
the final result has, and ``report`` returning True cancels the fit (the
function then returns None).
"""
import numpy as np

import nnlib

# --- Hidden-units explorer (chapter 8): fit y = x sin(x) ---------------------------------

X_SCALE = 10.0  # the network sees x / 10, so its inputs lie in [-1, 1]
NUM_TRAIN = 64
NUM_CURVE = 101
NUM_TEST = 200
# The training recipe, shared with chapter 8: full-batch Adam on the hidden layers with
# the learning rate following a cosine from CURVE_LR down to 0 over CURVE_EPOCHS steps,
# and the output layer solved by least squares before the first step and after every
# step (nnlib.fit(..., solve_output=True), Cyr et al. 2020). The solve puts the network
# at once at the best fit its starting hinges allow; Adam then moves the hinges.
CURVE_EPOCHS = 300
CURVE_LR = 0.01
FIRST_LAYER_GAIN = {"tanh": 5.0, "sigmoid": 10.0}  # see curve_model
LOSS_SAMPLES = 50  # points kept of each loss curve

HIDDEN_UNITS_OPTIONS = {
    "units": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
    "layers": [1, 2, 3, 4],
    "activation": ["relu", "leaky_relu", "elu", "swish", "tanh", "sigmoid"],
    "seed": [0, 1, 2],
}


def curve_data():
    """Training points, the curve's x samples, the true curve and a held-out test set.

    Returns a dict of 1-D arrays: x_train, y_train (64 even points on [-10, 10]),
    x, y_true (101 even samples, what the explorer draws), x_test, y_test
    (200 uniform random points, seed 1234: error between the training points).
    """
    x_train, y_train = nnlib.datasets.x_sin_x(NUM_TRAIN)
    x_curve, y_true = nnlib.datasets.x_sin_x(NUM_CURVE)
    x_test = np.sort(np.random.default_rng(1234).uniform(-10.0, 10.0, NUM_TEST))
    return {
        "x_train": x_train[:, 0], "y_train": y_train[:, 0],
        "x": x_curve[:, 0], "y_true": y_true[:, 0],
        "x_test": x_test, "y_test": x_test * np.sin(x_test),
    }


def curve_model(units, layers, activation, seed):
    """A 1 -> units x layers -> 1 network whose first-layer kinks start spread over [-1, 1].

    nnlib's zero biases would put every first-layer unit's kink at x = 0;
    ``nnlib.spread_hinges`` starts them where the curve bends (chapter 8 does the same).
    """
    rng = np.random.default_rng(seed)
    model = nnlib.mlp([1] + [units] * layers + [1], activation, rng=rng)
    # Xavier draws the single input's weights with standard deviation sqrt(2 / (1 + units)):
    # over [-1, 1] a tanh or sigmoid unit then barely bends and, with least-squares output
    # weights, one hidden layer of tanh units stalls near MSE 2.5 at every width. Steeper
    # first-layer weights (gains measured on the one-layer fits) let each unit bend inside
    # the range. Deeper networks bend in their later layers too and keep Xavier's scale
    # (with the gain, the 2- to 4-layer sigmoid fits got worse with width at some steps).
    if layers == 1:
        model.layers[0].params["W"] *= FIRST_LAYER_GAIN.get(activation, 1.0)
    return nnlib.spread_hinges(model, rng)


def curve_optimizer():
    """A fresh optimizer for the recipe: Adam at CURVE_LR, cosine-annealed to 0 over CURVE_EPOCHS steps."""
    return nnlib.optim.Scheduled(nnlib.optim.Adam(lr=CURVE_LR), nnlib.schedules.cosine(CURVE_EPOCHS))


def train_curve(model, x, y, callback=None):
    """Train ``model`` on (x, y) by the recipe above; returns nnlib's History."""
    return nnlib.fit(model, x, y, loss="mse", optimizer=curve_optimizer(), epochs=CURVE_EPOCHS,
                     solve_output=True, callback=callback)


def reference_mse(units, x, y):
    """MSE on (x, y) of the fixed-hinge least-squares reference with ``units`` ReLU hinges.

    The hinges sit at ``units`` evenly spaced points of [-1, 1), the first at the left
    end (there it acts as a straight line), and only the output weights and bias are
    fitted, by least squares: no training. x is the network's (scaled) input, (N, 1).
    """
    kinks = np.linspace(-1.0, 1.0, units + 1)[:-1]
    design = np.column_stack([np.maximum(0.0, x - kinks[None, :]), np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = design @ coef - y
    return float(np.mean(residual**2))


def _loss_samples(losses):
    """Indices of about LOSS_SAMPLES epochs spread evenly over a loss curve, last one included."""
    return np.unique(np.linspace(0, len(losses) - 1, min(LOSS_SAMPLES, len(losses))).round().astype(int))


def curve_snapshot(model, data, losses, epoch, settings):
    """What the explorer draws for ``model`` now: the fitted curve, hinges, loss curve, errors."""
    y_fit = model.predict(data["x"][:, None] / X_SCALE)[:, 0]
    train_mse = nnlib.losses.mse(model.predict(data["x_train"][:, None] / X_SCALE), data["y_train"][:, None])[0]
    test_mse = nnlib.losses.mse(model.predict(data["x_test"][:, None] / X_SCALE), data["y_test"][:, None])[0]
    hinges = []
    if settings["layers"] == 1:
        # Unit j's kink (ReLU family) or the middle of its bend (smooth activations).
        with np.errstate(divide="ignore", invalid="ignore"):
            kinks = X_SCALE * nnlib.hinge_positions(model)
        hinges = sorted(float(k) for k in kinks if np.isfinite(k) and -10.0 <= k <= 10.0)
    keep = _loss_samples(losses) if losses else np.array([], dtype=int)
    return {
        "y": y_fit.tolist(),
        "hinges": hinges,
        "loss_epochs": (keep + 1).tolist(),
        "log10_loss": np.log10(np.maximum(np.asarray(losses)[keep], 1e-6)).tolist() if losses else [],
        "train_mse": train_mse,
        "test_mse": test_mse,
        "params": nnlib.count_parameters([1] + [settings["units"]] * settings["layers"] + [1])["parameters"],
        "epoch": epoch,
        "epochs": CURVE_EPOCHS,
    }


def run_hidden_units(units, layers, activation, seed, report=None, data=None):
    """Train one network on x sin(x) by the recipe (``train_curve``); return its snapshot.

    Returns None if ``report`` cancelled the fit.
    """
    settings = {"units": units, "layers": layers, "activation": activation, "seed": seed}
    data = curve_data() if data is None else data
    model = curve_model(units, layers, activation, seed)

    def callback(epoch, history):
        return report is not None and report(epoch, lambda: curve_snapshot(model, data, history.loss, epoch, settings))

    history = train_curve(model, data["x_train"][:, None] / X_SCALE, data["y_train"][:, None], callback=callback)
    if history.stopped_early:
        return None
    return curve_snapshot(model, data, history.loss, CURVE_EPOCHS, settings)


# --- Activation explorer (chapter 2) -------------------------------------------------------

Z_RANGE = 6.0
NUM_Z = 241
SATURATION_THRESHOLD = 0.05  # |f'(z)| below this counts as saturated

ACTIVATION_NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish"]
# The one parameter of some activations: its name and the values the slider offers.
ACTIVATION_PARAMS = {
    "leaky_relu": ("slope", [0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0], 0.01),
    "elu": ("alpha", [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0], 1.0),
    "swish": ("beta", [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0], 1.0),
}


def activation_options():
    """Names, and for each parametrised activation its parameter's name, values and default."""
    return {
        "activation": ACTIVATION_NAMES,
        "param": {name: values for name, (_, values, _) in ACTIVATION_PARAMS.items()},
        "param_name": {name: label for name, (label, _, _) in ACTIVATION_PARAMS.items()},
        "param_default": {name: default for name, (_, _, default) in ACTIVATION_PARAMS.items()},
    }


def run_activation(activation, param=None):
    """f(z) and f'(z) on [-6, 6] from nnlib, and where the activation saturates (|f'| < 0.05).

    ``param`` is the activation's parameter (see ACTIVATION_PARAMS; None: its default).
    """
    z = np.linspace(-Z_RANGE, Z_RANGE, NUM_Z)
    kwargs = {}
    if activation in ACTIVATION_PARAMS:
        name, _, default = ACTIVATION_PARAMS[activation]
        kwargs = {name: default if param is None else param}
    fn = nnlib.get_activation(activation, **kwargs)
    value, derivative = fn.value(z), fn.derivative(z)
    saturated = np.abs(derivative) < SATURATION_THRESHOLD
    return {
        "f": value.tolist(),
        "df": derivative.tolist(),
        "saturated_fraction": float(saturated.mean()),
        "df_at_0": float(fn.derivative(np.zeros(1))[0]),
        "df_max": float(derivative.max()),
    }


def activation_data():
    return {"z": np.linspace(-Z_RANGE, Z_RANGE, NUM_Z).tolist(), "threshold": SATURATION_THRESHOLD}


# --- Regularization explorer (chapter 7) ---------------------------------------------------

NUM_REGION = 48  # decision regions are drawn on a 48 x 48 grid
REGION_RANGE = 1.5
CLASSIFIER_UNITS = 20
CLASSIFIER_EPOCHS = 1000
CLASSIFIER_LR = 0.02
INPUT_SCALE = 2.0  # the network sees 2 x, so its inputs lie roughly in [-2, 2]

REGULARIZATION_OPTIONS = {
    "l2": [0.0, 0.0003, 0.001, 0.003, 0.01, 0.03],
    "drop_prob": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "seed": [0, 1, 2],
}


def classification_data():
    """Two noisy spirals: 100 training and 300 test points (x: (N, 2) in about [-1.4, 1.4])."""
    x, y = nnlib.datasets.spirals(400, noise=1.0, seed=0)
    x_train, y_train, x_test, y_test = nnlib.datasets.train_test_split(x, y, test_fraction=0.75, seed=0)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def region_grid():
    """(NUM_REGION**2, 2) grid points, row by row from the top (x2 = +1.5) down."""
    ticks = np.linspace(-REGION_RANGE, REGION_RANGE, NUM_REGION)
    g1, g2 = np.meshgrid(ticks, ticks[::-1])
    return np.column_stack([g1.ravel(), g2.ravel()])


def classifier_snapshot(model, data, losses, epoch):
    """Decision regions as a string of hex digits (P(class 1) in 16 levels), accuracies, loss curve."""
    prob = nnlib.softmax(model.predict(region_grid() * INPUT_SCALE))[:, 1]
    levels = np.minimum((prob * 16).astype(int), 15)
    accuracy = {
        part: float(np.mean(np.argmax(model.predict(data[f"x_{part}"] * INPUT_SCALE), axis=1) == data[f"y_{part}"]))
        for part in ("train", "test")
    }
    keep = _loss_samples(losses) if losses else np.array([], dtype=int)
    weights = np.concatenate([layer.params["W"].ravel() for layer in model.layers if "W" in layer.params])
    return {
        "regions": "".join("0123456789abcdef"[level] for level in levels),
        "train_accuracy": accuracy["train"],
        "test_accuracy": accuracy["test"],
        "weight_norm": float(np.sqrt(np.sum(weights**2))),
        "loss_epochs": (keep + 1).tolist(),
        "log10_loss": np.log10(np.maximum(np.asarray(losses)[keep], 1e-6)).tolist() if losses else [],
        "epoch": epoch,
        "epochs": CLASSIFIER_EPOCHS,
    }


def run_regularization(l2, drop_prob, seed, report=None, data=None):
    """Train the 2-20-2 ReLU classifier with an L2 penalty and dropout; return its snapshot."""
    data = classification_data() if data is None else data
    rng = np.random.default_rng(seed)
    model = nnlib.mlp([2, CLASSIFIER_UNITS, 2], "relu", rng=rng, l2=l2, drop_prob=drop_prob)

    def callback(epoch, history):
        return report is not None and report(epoch, lambda: classifier_snapshot(model, data, history.loss, epoch))

    history = nnlib.fit(model, data["x_train"] * INPUT_SCALE, data["y_train"], loss="softmax_cross_entropy",
                        optimizer="adam", lr=CLASSIFIER_LR, epochs=CLASSIFIER_EPOCHS, callback=callback)
    if history.stopped_early:
        return None
    return classifier_snapshot(model, data, history.loss, CLASSIFIER_EPOCHS)
