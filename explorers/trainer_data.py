"""What the website needs to train the hidden-units networks in the page (issue 12 section 3).

static/trainer.js trains these networks in float64 JavaScript, from the very weights
nnlib starts them at (``fits.curve_model``) and by the recipe of ``fits.train_curve``.
Shipping every starting network would take megabytes, so this ships what they are
drawn from instead, exactly (float64 bytes in base64, or JSON numbers that read back
to the same double):

- per seed, the standard normal draws of ``numpy.random.default_rng(seed)``: every
  ``curve_model`` draws its Dense layers' weights one layer after the other as the
  first normals of that stream (W = std * z, then times the first layer's gain);
- per network, the kink positions ``spread_hinges`` draws next (b = -W * position);
- per network, each layer's std and the first layer's gain;
- the exact data, the recipe's constants and the activations' parameters.

``build`` rebuilds every network from these pieces and checks it is, bit for bit, the
one ``fits.curve_model`` makes, so the file cannot drift from nnlib unnoticed.

    .venv/bin/python -m explorers.trainer_data          # writes static/explorers-data/hidden_units_init.js
"""
import base64
import itertools
import json
import sys

import numpy as np

import nnlib
from nnlib.model import RIDGE, _default_init

from . import fits, precompute

KIND = "hidden_units_init"
STD = {  # nnlib.initializers' normal initializers: their std from (fan_in, fan_out)
    "he_normal": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in),
    "xavier_normal": lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out)),
}


def pack(values):
    """float64 values as base64 of their little-endian bytes (exact, about 11 characters each)."""
    return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode("ascii")


def unpack(text):
    """The float64 array, shape (n,), that ``pack`` wrote as ``text``."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8")


def layer_sizes(units, layers):
    """[n_0, ..., n_L] of a network with ``layers`` hidden layers of ``units`` each, one input, one output."""
    return [1] + [units] * layers + [1]


def recipe(units, layers, activation):
    """Per Dense layer its initializer's std; and the first layer's gain (see fits.curve_model)."""
    init = _default_init(activation)
    sizes = layer_sizes(units, layers)
    inits = [init] * layers + ["xavier_normal" if init == "he_normal" else init]
    std = [float(STD[name](fan_in, fan_out)) for name, fan_in, fan_out in zip(inits, sizes[:-1], sizes[1:])]
    gain = fits.FIRST_LAYER_GAIN.get(activation, 1.0) if layers == 1 else 1.0
    return std, float(gain)


def draws(seed, units, layers, num_normals):
    """The seed's first ``num_normals`` standard normals and this network's kink positions."""
    rng = np.random.default_rng(seed)
    sizes = layer_sizes(units, layers)
    used = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    normals = rng.standard_normal(num_normals)
    rng = np.random.default_rng(seed)
    rng.standard_normal(used)
    return normals, rng.uniform(-1.0, 1.0, units)


def rebuild(normals, positions, units, layers, std, gain):
    """The starting weights [(W, b), ...] from the shipped pieces, as trainer.js computes them."""
    sizes = layer_sizes(units, layers)
    params, offset = [], 0
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights = std[index] * normals[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        if index == 0:
            weights = weights * gain
            bias = -weights[0] * positions
        else:
            bias = np.zeros(fan_out)
        params.append((weights, bias))
    return params


def build():
    """The data script's document: every seed's normals and every network's pieces, checked bit for bit."""
    options = fits.HIDDEN_UNITS_OPTIONS
    largest = max(sum(a * b for a, b in zip(s[:-1], s[1:]))
                  for s in (layer_sizes(u, l) for u in options["units"] for l in options["layers"]))
    normals = {seed: np.random.default_rng(seed).standard_normal(largest) for seed in options["seed"]}
    networks, positions = {}, {}
    for activation, layers, units, seed in itertools.product(
            options["activation"], options["layers"], options["units"], options["seed"]):
        std, gain = recipe(units, layers, activation)
        _, kinks = draws(seed, units, layers, 0)
        model = fits.curve_model(units, layers, activation, seed)
        dense = [layer for layer in model.layers if isinstance(layer, nnlib.layers.Dense)]
        for (weights, bias), layer in zip(rebuild(normals[seed], kinks, units, layers, std, gain), dense, strict=True):
            if not (np.array_equal(weights, layer.params["W"]) and np.array_equal(bias, layer.params["b"])):
                raise AssertionError(f"{activation}|{layers}|{units}|{seed}: the shipped pieces do not rebuild "
                                     "fits.curve_model's starting weights; update explorers/trainer_data.py")
        networks[f"{activation}|{layers}|{units}"] = {"std": std, "gain": gain}
        positions[f"{layers}|{units}|{seed}"] = pack(kinks)
    data = fits.curve_data()
    adam = fits.curve_optimizer().optimizer
    return {
        "kind": KIND,
        "normals": {str(seed): pack(values) for seed, values in normals.items()},
        "positions": positions,
        "networks": networks,
        "data": {name: pack(data[name]) for name in ("x_train", "y_train", "x", "x_test", "y_test")},
        "recipe": {"epochs": fits.CURVE_EPOCHS, "lr": fits.CURVE_LR, "beta1": adam.beta1, "beta2": adam.beta2,
                   "eps": adam.eps, "ridge": RIDGE, "x_scale": fits.X_SCALE, "cosine_final": 0.0},
        "activation_params": {name: vars(nnlib.get_activation(name)) for name in options["activation"]},
    }


def main():
    path = precompute.data_path(KIND)
    text = precompute.script(KIND, build())
    if "--check" in sys.argv[1:]:
        same = path.exists() and path.read_text() == text
        print(f"{KIND}: {'matches' if same else 'DIFFERS from'} {path.name}")
        sys.exit(0 if same else 1)
    path.write_text(text)
    print(f"{KIND}: {len(text) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
