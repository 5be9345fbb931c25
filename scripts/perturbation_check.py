"""Find chapter outputs that a last-bit difference in arithmetic would change.

Another processor rounds matrix products differently (README, "Outputs that depend
on the processor"). This script imitates that on any machine: it runs a notebook
with every ``nnlib.Dense`` forward and backward product multiplied by
(1 +- 2**-52), a change of about one unit in the last place with random signs, and
lists the code cells whose text output then differs from the stored one. A cell it
lists prints digits that some processor will not reproduce.

    .venv/bin/python scripts/perturbation_check.py book/05_backprop.ipynb [more.ipynb ...]

It exits 1 if any cell differs. Cells tagged ``nbval-ignore-output`` are reported
separately and do not count. The perturbation is a development check only: the
patch lives in a cell this script adds to its own copy of the notebook, never in
``nnlib``.
"""
import argparse
import configparser
import difflib
import re
import sys
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
IGNORE_TAG = "nbval-ignore-output"

PATCH = '''
import functools as _functools

import numpy as _np
import nnlib.layers as _layers

_jitter_rng = _np.random.default_rng({seed})


def _jitter(values):
    # One unit in the last place of the values' own precision, in that precision: a float64
    # factor would quietly turn a float32 network into a float64 one.
    signs = _jitter_rng.choice((-1.0, 1.0), size=values.shape)
    return values * (1 + _np.finfo(values.dtype).eps * signs).astype(values.dtype)


_forward, _backward = _layers.Dense.forward, _layers.Dense.backward


# functools.wraps keeps inspect.getsource showing the library's code, as chapters do.
@_functools.wraps(_forward)
def _perturbed_forward(self, x, training=False):
    return _jitter(_forward(self, x, training))


@_functools.wraps(_backward)
def _perturbed_backward(self, dout):
    dx = _backward(self, dout)
    self.grads["W"][...] = _jitter(self.grads["W"])
    return _jitter(dx)


_layers.Dense.forward, _layers.Dense.backward = _perturbed_forward, _perturbed_backward
'''


def sanitizers():
    config = configparser.RawConfigParser()
    config.read(ROOT / "tests" / "nbval_sanitize.cfg", encoding="utf-8")
    return [(section["regex"], section["replace"]) for _, section in config.items() if "regex" in section]


def text_output(cell, rules):
    """The cell's text outputs as nbval compares them (images and widgets left out)."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
        elif "text/plain" in output.get("data", {}) and not set(output["data"]) - {"text/plain"}:
            parts.append(output["data"]["text/plain"])
    text = "".join(parts)
    for regex, replace in rules:
        text = re.sub(regex, replace, text)
    return text


def check(path, seed, timeout):
    stored = nbformat.read(path, as_version=4)
    perturbed = nbformat.read(path, as_version=4)
    perturbed.cells.insert(0, nbformat.v4.new_code_cell(PATCH.format(seed=seed)))
    nbclient.NotebookClient(perturbed, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    rules = sanitizers()
    differing = []
    for index, (before, after) in enumerate(zip(stored.cells, perturbed.cells[1:])):
        if before.cell_type != "code":
            continue
        old, new = text_output(before, rules), text_output(after, rules)
        if old != new:
            ignored = IGNORE_TAG in before.metadata.get("tags", [])
            diff = "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "stored", "perturbed",
                                                  lineterm="", n=0))
            differing.append((index, ignored, diff))
    return differing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random signs (default 1)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = parser.parse_args(argv)
    failed = False
    for path in args.notebooks:
        differing = check(path.resolve(), args.seed, args.timeout)
        counted = [entry for entry in differing if not entry[1]]
        print(f"{path}: {len(counted)} cell(s) differ" + (f", {len(differing) - len(counted)} more tagged "
                                                          f"{IGNORE_TAG}" if len(differing) > len(counted) else ""))
        for index, ignored, diff in differing:
            print(f"  cell {index}{' (' + IGNORE_TAG + ')' if ignored else ''}:")
            print("    " + diff.replace("\n", "\n    "))
        failed = failed or bool(counted)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
