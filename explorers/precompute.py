"""Compute every fit the static website's explorers can show, and write them as JSON.

The website has no kernel, so each explorer's page loads one JSON file with a
fit for every combination of its controls, computed here by nnlib (seeded,
single process, so the same machine gives the same bytes). Numbers are stored
as integers: a field listed in the file's ``scale`` holds round(value * scale).

    .venv/bin/python -m explorers.precompute            # all three (about 10 minutes)
    .venv/bin/python -m explorers.precompute activation # one of them
    .venv/bin/python -m explorers.precompute --check    # recompute all, compare, write nothing

hidden_units also writes hidden_units_init.js, what the page's own trainer starts from
(see trainer_data.py).

File layout (the static page's model shim in static/explorers.js reads it):
    kind   which explorer
    state  the widget's initial traits: its controls, ``options`` and ``data``
    key    the controls that select a fit; a fit's key is their values joined by "|"
    scale  fields stored as integers, and by what they were multiplied
    fits   key -> the ``fit`` trait for those settings
"""
import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import fits
from . import optimization as optimizer_explorer

DATA_DIR = Path(__file__).resolve().parent / "static" / "explorers-data"
KINDS = ("hidden_units", "activation", "regularization", "optimizer")


def js_str(value):
    """A control value as JavaScript's String() writes it, so both sides build the same key."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    if abs(value) < 1e-4:
        raise ValueError(f"{value!r}: JavaScript and Python print numbers below 1e-4 differently")
    return repr(float(value))


def fit_key(state, key):
    return "|".join(js_str(state[name]) for name in key)


def _quantize(fit, scale):
    """Store the fields in ``scale`` as integers; round the other floats to 4 significant digits."""
    out = {}
    for name, value in fit.items():
        if name in scale:
            out[name] = np.round(np.asarray(value) * scale[name]).astype(int).tolist()
        elif isinstance(value, float):
            out[name] = float(f"{value:.4g}")
        elif isinstance(value, list) and value and isinstance(value[0], float):
            out[name] = [round(v, 2) for v in value]
        else:
            out[name] = value
    return out


def spec(kind):
    """(initial state, key controls, scale, list of settings dicts, function settings -> fit)."""
    if kind == "hidden_units":
        data = fits.curve_data()
        options = fits.HIDDEN_UNITS_OPTIONS
        state = {"units": 16, "layers": 1, "activation": "relu", "seed": 0, "options": options,
                 "data": {name: np.round(data[name], 3).tolist() for name in ("x_train", "y_train", "x", "y_true")}}
        key = ["activation", "layers", "units", "seed"]
        settings = [dict(zip(key, values)) for values in itertools.product(*(options[name] for name in key))]
        return state, key, {"y": 100, "log10_loss": 100}, settings, lambda s: fits.run_hidden_units(data=data, **s)
    if kind == "activation":
        options = fits.activation_options()
        state = {"activation": "sigmoid", "param": None, "options": options, "data": fits.activation_data()}
        settings = [{"activation": name, "param": param} for name in options["activation"]
                    for param in options["param"].get(name, [None])]
        return state, ["activation", "param"], {"f": 1000, "df": 1000}, settings, lambda s: fits.run_activation(**s)
    if kind == "regularization":
        data = fits.classification_data()
        options = fits.REGULARIZATION_OPTIONS
        state = {"l2": 0.0, "drop_prob": 0.0, "seed": 0, "options": options, "data": {
            "x_train": np.round(data["x_train"], 3).tolist(), "y_train": data["y_train"].tolist(),
            "x_test": np.round(data["x_test"], 3).tolist(), "y_test": data["y_test"].tolist(),
            "range": fits.REGION_RANGE, "grid": fits.NUM_REGION}}
        key = ["l2", "drop_prob", "seed"]
        settings = [dict(zip(key, values)) for values in itertools.product(*(options[name] for name in key))]
        return state, key, {"log10_loss": 100}, settings, lambda s: fits.run_regularization(data=data, **s)
    if kind == "optimizer":
        return optimizer_explorer.spec()
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def build(kind, only=None, progress=False):
    """The whole JSON document for ``kind``; ``only`` (a list of keys) computes just those fits."""
    state, key, scale, settings, run = spec(kind)
    wanted = [s for s in settings if only is None or fit_key(s, key) in only]
    computed = {}
    start = time.perf_counter()
    for index, setting in enumerate(wanted, 1):
        computed[fit_key(setting, key)] = _quantize(run(setting), scale)
        if progress and index % 20 == 0:
            print(f"  {kind}: {index}/{len(wanted)} fits, {time.perf_counter() - start:.0f} s", flush=True)
    state["fit"] = computed.get(fit_key(state, key), {})
    return {"kind": kind, "state": state, "key": key, "scale": scale, "fits": computed}


def all_keys(kind):
    _, key, _, settings, _ = spec(kind)
    return [fit_key(s, key) for s in settings]


def dumps(document):
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


# The data ships as a classic script, not as JSON: a page opened from file:// may
# include a script but not fetch a file. The script registers the document in the
# global nnExplorersData under its kind, where the page's explorer finds it.
def _script_head(kind):
    return f"(globalThis.nnExplorersData ||= {{}})[{json.dumps(kind)}] = "


def data_path(kind, folder=None):
    """Where the precomputed fits of one explorer live: <folder>/<kind>.js."""
    return Path(folder or DATA_DIR) / f"{kind}.js"


def script(kind, document):
    """The text of the data script for `document`, the precomputed fits of `kind`."""
    return _script_head(kind) + dumps(document) + ";\n"


def load(kind, folder=None):
    """The precomputed fits of `kind` as a dict, read back from its data script."""
    path = data_path(kind, folder)
    text = path.read_text()
    head = _script_head(kind)
    if not (text.startswith(head) and text.endswith(";\n")):
        raise ValueError(f"{path} is not an explorer data script for {kind!r}: it should start with {head!r}")
    return json.loads(text[len(head):-2])


def main():
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        # Threaded BLAS kernels may add in another order, and the stored fits must come out
        # bit for bit the same: start again with one thread before numpy loads its BLAS.
        os.execve(sys.executable, [sys.executable, "-m", __spec__.name, *sys.argv[1:]],
                  {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    parser = argparse.ArgumentParser(description="Precompute the static explorers' fits.")
    parser.add_argument("kinds", nargs="*", metavar="kind", help=f"any of {', '.join(KINDS)} (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="recompute and compare with the committed files, writing nothing; exit 1 on a difference")
    args = parser.parse_args()
    for kind in args.kinds:
        if kind not in KINDS:
            parser.error(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for kind in args.kinds or KINDS:
        start = time.perf_counter()
        text = script(kind, build(kind, progress=True))
        path = data_path(kind)
        if args.check:
            same = path.exists() and path.read_text() == text
            stale += [] if same else [kind]
            print(f"{kind}: {'matches' if same else 'DIFFERS from'} {path.name} ({time.perf_counter() - start:.0f} s)")
        else:
            path.write_text(text)
            print(f"{kind}: {len(text) / 1024:.0f} KiB in {time.perf_counter() - start:.0f} s")
        if kind == "hidden_units":  # and what the page's own trainer starts from (trainer_data.py)
            from . import trainer_data

            init_text, init_path = script(trainer_data.KIND, trainer_data.build()), data_path(trainer_data.KIND)
            if args.check:
                same = init_path.exists() and init_path.read_text() == init_text
                print(f"{trainer_data.KIND}: {'matches' if same else 'DIFFERS from'} {init_path.name}")
                stale += [] if same or kind in stale else [kind]
            else:
                init_path.write_text(init_text)
    if stale:
        sys.exit(f"stale data: {', '.join(stale)}; run python -m explorers.precompute {' '.join(stale)}")


if __name__ == "__main__":
    main()
