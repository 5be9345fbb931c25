"""How fast the live optimizer explorer answers a control: first redraw and finished fit, in seconds.

    .venv/bin/python benchmarks/bench_optimizer_explorer.py

For a sample of settings it changes the widget's learning rate or optimizer (as the browser
does) and prints the time until the first `fit` push (goal <= 0.1 s) and until the fit is
finished. The ravine's path needs no kernel: the browser computes it at once.
"""
import os
import statistics
import threading
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from explorers import optimization  # noqa: E402
from explorers.widgets import OptimizerExplorer  # noqa: E402

MOVES = [("lr", 0.01), ("optimizer", "adam"), ("lr", 0.3), ("optimizer", "sgd"), ("lr", 0.001),
         ("optimizer", "rmsprop"), ("lr", 1.0), ("optimizer", "nesterov")]


def main():
    widget = OptimizerExplorer()
    widget.wait()
    first, done = [], []
    for name, value in MOVES:
        pushed = threading.Event()
        handler = lambda change: pushed.set()  # noqa: E731
        widget.observe(handler, names="fit")
        start = time.perf_counter()
        setattr(widget, name, value)
        pushed.wait(10)
        first.append(time.perf_counter() - start)
        widget.wait()
        done.append(time.perf_counter() - start)
        widget.unobserve(handler, names="fit")
        print(f"{name}={value!s:8} first redraw {first[-1]:.3f} s, finished ({optimization.FIT_EPOCHS} epochs) "
              f"{done[-1]:.2f} s")
    print(f"median first redraw {statistics.median(first):.3f} s (max {max(first):.3f}); "
          f"median finished {statistics.median(done):.2f} s (max {max(done):.2f})")


if __name__ == "__main__":
    main()
