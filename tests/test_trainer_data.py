"""The data the website's in-page trainer starts from (explorers/trainer_data.py).

The browser side, trainer.js against nnlib, is tested in tests/browser/test_js_trainer.py.
"""
import numpy as np
import pytest

from explorers import fits, precompute, trainer_data


def test_the_shipped_file_is_what_the_current_code_writes_and_stays_under_a_megabyte():
    path = precompute.data_path(trainer_data.KIND)
    text = precompute.script(trainer_data.KIND, trainer_data.build())
    assert path.read_text() == text, "stale: run .venv/bin/python -m explorers.trainer_data"
    assert len(text.encode()) < 1024 * 1024


def test_the_shipped_pieces_rebuild_nnlibs_starting_weights_bit_for_bit():
    doc = precompute.load(trainer_data.KIND)
    for activation, layers, units, seed in [("relu", 1, 16, 0), ("tanh", 1, 8, 2), ("sigmoid", 3, 24, 1),
                                            ("swish", 4, 64, 2)]:
        network = doc["networks"][f"{activation}|{layers}|{units}"]
        rebuilt = trainer_data.rebuild(trainer_data.unpack(doc["normals"][str(seed)]),
                                       trainer_data.unpack(doc["positions"][f"{layers}|{units}|{seed}"]),
                                       units, layers, network["std"], network["gain"])
        dense = [layer for layer in fits.curve_model(units, layers, activation, seed).layers if "W" in layer.params]
        for (weights, bias), layer in zip(rebuilt, dense, strict=True):
            assert np.array_equal(weights, layer.params["W"]) and np.array_equal(bias, layer.params["b"])


def test_the_exact_data_is_shipped_unrounded():
    doc = precompute.load(trainer_data.KIND)
    data = fits.curve_data()
    for name in ("x_train", "y_train", "x", "x_test", "y_test"):
        assert np.array_equal(trainer_data.unpack(doc["data"][name]), data[name]), name


def test_a_recipe_that_no_longer_matches_nnlib_stops_the_build(monkeypatch):
    """As if nnlib's He initializer had changed its scale and trainer_data had not followed."""
    monkeypatch.setitem(trainer_data.STD, "he_normal", lambda fan_in, fan_out: np.sqrt(1.0 / fan_in))
    with pytest.raises(AssertionError, match="do not rebuild fits.curve_model"):
        trainer_data.build()
