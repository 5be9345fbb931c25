"""How well the hidden-units explorer's networks fit x sin(x), next to the fixed-hinge reference.

For every activation and depth the explorer offers, trains every width from the
explorer's seeds by the explorer's recipe (``explorers.fits.train_curve``: Adam on
the hidden layers with a cosine learning rate, the output layer solved by least
squares after every step) and prints, by width, the median over seeds of the
training MSE (64 points) and the test MSE (200 points between them), next to the
fixed-hinge least-squares reference (``explorers.fits.reference_mse``: ReLU
hinges evenly spaced, only the output layer fitted) on the same 64 points. It
then times the live widget's converged fit for the default 1-16-1 ReLU network
(from setting the control to the final fit), whose goal is 1 s.

``--plain`` trains instead by the explorer's former recipe (full-batch Adam at a
constant lr 0.03 for 600 epochs, output layer trained by Adam too), to compare.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fits.py [--activation relu] [--layers 1] [--plain]
"""
import argparse
import statistics
import time

import numpy as np

import nnlib
from explorers import fits
from explorers.widgets import HiddenUnitsExplorer


def train_plain(model, x, y):
    return nnlib.fit(model, x, y, loss="mse", optimizer="adam", lr=0.03, epochs=600)


def table(activation, layers, data, plain=False):
    x_train, y_train = data["x_train"][:, None] / fits.X_SCALE, data["y_train"][:, None]
    x_test, y_test = data["x_test"][:, None] / fits.X_SCALE, data["y_test"][:, None]
    print(f"\n{activation}, {layers} hidden layer{'s' if layers > 1 else ''}"
          f" ({'plain Adam, lr 0.03, 600 epochs' if plain else 'the explorer recipe'};"
          f" median over seeds {fits.HIDDEN_UNITS_OPTIONS['seed']})")
    print("units  train MSE  test MSE  reference (fixed hinges, train)  seconds per fit")
    for units in fits.HIDDEN_UNITS_OPTIONS["units"]:
        train, test, seconds = [], [], []
        for seed in fits.HIDDEN_UNITS_OPTIONS["seed"]:
            model = fits.curve_model(units, layers, activation, seed)
            start = time.perf_counter()
            (train_plain if plain else fits.train_curve)(model, x_train, y_train)
            seconds.append(time.perf_counter() - start)
            train.append(nnlib.losses.mse(model.predict(x_train), y_train)[0])
            test.append(nnlib.losses.mse(model.predict(x_test), y_test)[0])
        reference = fits.reference_mse(units, x_train, y_train)
        print(f"{units:5d}  {np.median(train):9.3g}  {np.median(test):8.3g}  {reference:31.3g}"
              f"  {statistics.median(seconds):15.2f}", flush=True)


def live_convergence(trials=3):
    """Seconds from setting units=16 on a live widget to its final fit (median of ``trials`` seeds)."""
    times = []
    for seed in range(trials):
        widget = HiddenUnitsExplorer(units=4, seed=seed)
        widget.wait()
        start = time.perf_counter()
        widget.units = 16
        widget.wait()
        times.append(time.perf_counter() - start)
        assert widget.fit["epoch"] == fits.CURVE_EPOCHS
    return statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", choices=fits.HIDDEN_UNITS_OPTIONS["activation"], action="append",
                        help="only this activation (repeatable; default: all)")
    parser.add_argument("--layers", type=int, choices=fits.HIDDEN_UNITS_OPTIONS["layers"], action="append",
                        help="only this depth (repeatable; default: all)")
    parser.add_argument("--plain", action="store_true", help="the former recipe, plain Adam, for comparison")
    parser.add_argument("--no-live", action="store_true", help="skip the live widget's timing")
    args = parser.parse_args()
    data = fits.curve_data()
    for activation in args.activation or fits.HIDDEN_UNITS_OPTIONS["activation"]:
        for layers in args.layers or fits.HIDDEN_UNITS_OPTIONS["layers"]:
            table(activation, layers, data, plain=args.plain)
    if not args.no_live:
        median, worst = live_convergence()
        print(f"\nlive widget, 1-16-1 ReLU, control set -> final fit of {fits.CURVE_EPOCHS} epochs:"
              f" median {median:.2f} s, worst {worst:.2f} s over 3 seeds (goal 1 s)")


if __name__ == "__main__":
    main()
