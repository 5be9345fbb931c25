"""The shipped digits data set and the script that extracts it."""
import gzip
import importlib.util

import numpy as np
import pytest

from book_toc import ROOT
from nnlib import datasets

# Images per digit in the test part of UCI's optical-digits set (its documentation).
UCI_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def load_script():
    spec = importlib.util.spec_from_file_location("extract_digits", ROOT / "scripts" / "extract_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_are_the_uci_test_set():
    x, y = datasets.digits()
    assert x.shape == (1797, 64) and x.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == UCI_CLASS_COUNTS
    assert x.min() == 0 and x.max() == 16 and np.array_equal(x, np.round(x))
    # Every pixel column varies somewhere except the ones at the image's left and right edges.
    assert (x.std(axis=0) > 0).sum() > 55


def test_digits_ship_with_their_source_and_licence():
    note = (ROOT / "nnlib" / "data" / "README.md").read_text(encoding="utf-8")
    for fact in ("CC BY 4.0", "Alpaydin", "UCI", "scripts/extract_digits.py"):
        assert fact in note, f"nnlib/data/README.md does not mention {fact!r}"
    assert (ROOT / "nnlib" / "data" / "digits.npz").stat().st_size < 100_000


def csv_gz(rows):
    return gzip.compress("\n".join(",".join(str(v) for v in row) for row in rows).encode("ascii"))


def test_extraction_reads_pixels_and_labels_and_refuses_to_overwrite(tmp_path):
    script = load_script()
    rows = [list(range(16)) * 4 + [3], [16] * 64 + [9]]
    images, labels = script.read_csv(csv_gz(rows))
    assert images.shape == (2, 8, 8) and images.dtype == np.uint8
    assert images[0, 0, :].tolist() == list(range(8)) and labels.tolist() == [3, 9]
    target = tmp_path / "digits.npz"
    script.write(images, labels, target, force=False)
    script.write(images, labels, target, force=False)  # identical: a no-op
    with pytest.raises(SystemExit, match="differs"):
        script.write(images, labels[::-1], target, force=False)
    with np.load(target) as kept:
        assert kept["labels"].tolist() == [3, 9], "a refused write must leave the file as it was"


@pytest.mark.parametrize("row, message", [
    ([0] * 64, "expected 65 columns"), ([17] + [0] * 63 + [1], "pixel values must lie in 0..16"),
    ([0] * 64 + [10], "labels must lie in 0..9"),
])
def test_extraction_rejects_malformed_files(row, message):
    with pytest.raises(ValueError, match=message):
        load_script().read_csv(csv_gz([row]))
