"""The optimizer explorer (optimization chapter): learning rate and optimizer on two problems.

1. The ravine of the chapter, an ill-conditioned quadratic in two weights. Its
   trajectories are computed in the page by static/optimizer.js from the numbers
   below (shipped in the data), and here by nnlib.optim stepping one parameter
   array, so that a browser test can check that both give the same path.
2. The x·sin(x) fit of the hidden-units explorer: a 1-16-1 ReLU network trained
   full-batch by each optimizer and learning rate; its loss curve is precomputed
   for the website and trained live in Jupyter.

Every setting of this explorer is stated here, once (for the lead's spec module).
"""
import numpy as np

import nnlib

from . import fits

# --- Settings -------------------------------------------------------------------------------

OPTIMIZER_NAMES = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
OPTIMIZER_LABELS = {"sgd": "gradient descent", "momentum": "heavy-ball momentum", "nesterov": "Nesterov momentum",
                    "rmsprop": "RMSProp", "adam": "Adam", "adamw": "AdamW"}
LEARNING_RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
DEFAULTS = {"optimizer": "momentum", "lr": 0.03}
# Hyperparameters other than the learning rate, the same on both problems.
HYPER = {"momentum": 0.9, "rho": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}
# The ravine: J(w) = (curvatures[0] w1^2 + curvatures[1] w2^2) / 2, as in the chapter.
RAVINE = {"curvatures": [0.02, 1.0], "start": [-7.0, 1.0], "steps": 200,
          "view": [-8.0, 4.0, -1.6, 1.6], "levels": [0.001, 0.004, 0.016, 0.06, 0.25, 1.0, 2.0]}
# The x·sin(x) fit: fits.curve_model's 1-16-1 ReLU network (seed 0), full batch, every layer
# trained by the chosen optimizer (no least-squares output layer, unlike the hidden-units recipe).
FIT_UNITS = 16
FIT_SEED = 0
FIT_EPOCHS = 2000


def make_optimizer(name, lr, decay=None):
    """A fresh nnlib optimizer called ``name`` at learning rate ``lr`` with HYPER's other settings."""
    if name not in OPTIMIZER_NAMES:
        raise ValueError(f"optimizer must be one of {OPTIMIZER_NAMES}, got {name!r}")
    if name == "sgd":
        return nnlib.optim.SGD(lr=lr)
    if name in ("momentum", "nesterov"):
        return nnlib.optim.Momentum(lr=lr, momentum=HYPER["momentum"], nesterov=name == "nesterov")
    if name == "rmsprop":
        return nnlib.optim.RMSProp(lr=lr, rho=HYPER["rho"], eps=HYPER["eps"])
    if name == "adam":
        return nnlib.optim.Adam(lr=lr, beta1=HYPER["beta1"], beta2=HYPER["beta2"], eps=HYPER["eps"])
    return nnlib.optim.AdamW(lr=lr, beta1=HYPER["beta1"], beta2=HYPER["beta2"], eps=HYPER["eps"],
                             weight_decay=HYPER["weight_decay"], decay=decay)


# --- 1. The ravine --------------------------------------------------------------------------

def ravine_cost(w):
    """The ravine's cost at ``w``: shape (..., 2) (a point, or points along the last axis) -> (...)."""
    curvatures = np.asarray(RAVINE["curvatures"])
    return 0.5 * np.sum(curvatures * np.asarray(w) ** 2, axis=-1)


def trajectory(name, lr, steps=None):
    """The path of nnlib's ``name`` optimizer on the ravine from its start: (steps + 1, 2) array.

    One parameter array ``w`` is stepped in place, its gradient written into one
    gradient array, as a network's parameters are. A path that overflows goes on
    as inf or nan (numpy's warnings about it are silenced).
    """
    steps = RAVINE["steps"] if steps is None else steps
    optimizer = make_optimizer(name, lr)
    curvatures = np.asarray(RAVINE["curvatures"])
    w, grad = np.array(RAVINE["start"]), np.zeros(2)
    path = [w.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            grad[...] = curvatures * w
            optimizer.step([(w, grad)])
            path.append(w.copy())
    return np.array(path)


# --- 2. The x·sin(x) fit --------------------------------------------------------------------

def fit_snapshot(model, data, losses, epoch, diverged_at=None):
    """What the explorer draws of one fit: the sampled loss curve (epochs and log10 loss) and the
    training MSE (None once the run diverged, at epoch ``diverged_at``)."""
    keep = fits._loss_samples(losses) if losses else np.array([], dtype=int)
    x = data["x_train"][:, None] / fits.X_SCALE
    finite = diverged_at is None
    return {
        "loss_epochs": (keep + 1).tolist(),
        "log10_loss": np.log10(np.maximum(np.asarray(losses)[keep], 1e-6)).tolist() if losses else [],
        "train_mse": float(nnlib.losses.mse(model.predict(x), data["y_train"][:, None])[0]) if finite else None,
        "epoch": epoch,
        "epochs": FIT_EPOCHS,
        "diverged_at": diverged_at,
    }


def run_fit(optimizer, lr, report=None, data=None):
    """Train the 1-16-1 ReLU network on x·sin(x) with ``optimizer`` at ``lr``; return what the explorer draws.

    A run whose cost overflows ends there: ``diverged_at`` is its epoch and the
    loss curve stops before it. Returns None if ``report`` cancelled the fit.
    """
    data = fits.curve_data() if data is None else data
    model = fits.curve_model(FIT_UNITS, 1, "relu", FIT_SEED)
    opt = make_optimizer(optimizer, lr, decay=model.penalised())
    x, y = data["x_train"][:, None] / fits.X_SCALE, data["y_train"][:, None]

    def callback(epoch, history):
        return report is not None and report(epoch, lambda: fit_snapshot(model, data, history.loss, epoch))

    try:
        with np.errstate(over="ignore", invalid="ignore"):
            history = nnlib.fit(model, x, y, loss="mse", optimizer=opt, epochs=FIT_EPOCHS, callback=callback)
    except nnlib.TrainingDiverged as error:
        losses = [v for v in error.history.loss if np.isfinite(v)]
        return fit_snapshot(model, data, losses, len(losses), diverged_at=len(error.history.loss) + 1)
    if history.stopped_early:
        return None
    return fit_snapshot(model, data, history.loss, FIT_EPOCHS)


# --- What the page needs --------------------------------------------------------------------

def options():
    """The controls' choices: optimizer names, learning rates and the optimizers' labels."""
    return {"optimizer": OPTIMIZER_NAMES, "lr": LEARNING_RATES, "labels": OPTIMIZER_LABELS}


def page_data():
    """The numbers static/optimizer.js computes and draws with: it hard-codes none of them."""
    return {"ravine": RAVINE, "hyper": HYPER, "fit_epochs": FIT_EPOCHS, "fit_units": FIT_UNITS}


def spec():
    """(initial state, key controls, scale, settings, run) for explorers.precompute."""
    state = {**DEFAULTS, "options": options(), "data": page_data()}
    key = ["optimizer", "lr"]
    settings = [{"optimizer": name, "lr": lr} for name in OPTIMIZER_NAMES for lr in LEARNING_RATES]
    data = fits.curve_data()
    return state, key, {"log10_loss": 100}, settings, lambda s: run_fit(data=data, **s)
