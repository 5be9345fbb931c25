"""Extract the 8x8 handwritten digits into nnlib/data/digits.npz, once.

The capstone chapter's data set: the test part of the UCI "Optical Recognition of
Handwritten Digits" set (Alpaydin & Kaynak, 1998; CC BY 4.0), 1,797 images of 8x8
pixels with values 0..16. scikit-learn's wheel carries it as
``sklearn/datasets/data/digits.csv.gz``; this script reads that file from a scratch
environment, so scikit-learn never becomes a course dependency:

    .venv/bin/python scripts/extract_digits.py                  # makes a throw-away venv with scikit-learn
    .venv/bin/python scripts/extract_digits.py --csv PATH.csv.gz  # or reads a copy you have

It refuses to overwrite an existing file that differs, unless given --force.
"""
import argparse
import gzip
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "nnlib" / "data" / "digits.npz"
SCIKIT_LEARN = "scikit-learn==1.9.1"  # the version whose wheel was checked to carry the file


def read_csv(raw):
    """Rows of 64 pixel values then the label -> (images uint8 (N, 8, 8), labels uint8 (N,))."""
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode("ascii")), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 65:
        raise ValueError(f"expected 65 columns (64 pixels and a label), got {table.shape[1]}")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16:
        raise ValueError(f"pixel values must lie in 0..16, got {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    return pixels.reshape(-1, 8, 8).astype(np.uint8), labels.astype(np.uint8)


def csv_from_scratch_environment():
    """Install scikit-learn into a temporary venv and return the bytes of its digits.csv.gz."""
    with tempfile.TemporaryDirectory() as scratch:
        python = Path(scratch) / "bin" / "python"
        subprocess.run([sys.executable, "-m", "venv", scratch], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", SCIKIT_LEARN], check=True)
        found = subprocess.run(
            [python, "-c", "import importlib.util, pathlib; "
             "spec = importlib.util.find_spec('sklearn'); "
             "print(pathlib.Path(spec.origin).parent / 'datasets' / 'data' / 'digits.csv.gz')"],
            check=True, capture_output=True, text=True)
        return Path(found.stdout.strip()).read_bytes()


def write(images, labels, target, force):
    if target.exists() and not force:
        with np.load(target) as existing:
            if np.array_equal(existing["images"], images) and np.array_equal(existing["labels"], labels):
                print(f"{target} is already up to date")
                return
        raise SystemExit(f"{target} exists and differs from the extracted data; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, images=images, labels=labels)
    print(f"wrote {target}: {len(labels)} images, {target.stat().st_size} bytes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, help="a digits.csv.gz to read instead of installing scikit-learn")
    parser.add_argument("--output", type=Path, default=TARGET, help=f"where to write (default {TARGET})")
    parser.add_argument("--force", action="store_true", help="replace an existing file that differs")
    args = parser.parse_args(argv)
    raw = args.csv.read_bytes() if args.csv else csv_from_scratch_environment()
    write(*read_csv(raw), args.output, args.force)


if __name__ == "__main__":
    main()
