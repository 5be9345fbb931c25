"""nnlib's training loop against a minimal hand-written numpy loop, in one run.

Same network (1-32-32-1 ReLU), same initial weights, same data (256 points of
x sin(x) on [-10, 10], inputs scaled to [-1, 1]), full-batch Adam, lr 0.01,
2000 steps. Prints microseconds per step for both, their ratio and both final
MSEs. Goal: ratio at most 1.1 with the same final MSE.

    .venv/bin/python benchmarks/bench_training.py [--repeats 5]
"""
import argparse
import time

import numpy as np

import nnlib

STEPS, LR, BETA1, BETA2, EPS = 2000, 0.01, 0.9, 0.999, 1e-8


def hand_written(x, y, weights):
    """Forward, backward and Adam for the 1-32-32-1 ReLU net, nothing else."""
    params = [w.copy() for w in weights]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    n = x.shape[0]
    for t in range(1, STEPS + 1):
        W1, b1, W2, b2, W3, b3 = params
        z1 = x @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        a2 = np.maximum(z2, 0)
        out = a2 @ W3 + b3
        diff = out - y
        loss = np.mean(diff**2)
        dout = 2 * diff / n
        dz2 = (dout @ W3.T) * (z2 > 0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        grads = [x.T @ dz1, dz1.sum(0), a1.T @ dz2, dz2.sum(0), a2.T @ dout, dout.sum(0)]
        for p, g, mi, vi in zip(params, grads, m, v):
            mi[:] = BETA1 * mi + (1 - BETA1) * g
            vi[:] = BETA2 * vi + (1 - BETA2) * g * g
            p -= LR * (mi / (1 - BETA1**t)) / (np.sqrt(vi / (1 - BETA2**t)) + EPS)
    return loss


def with_nnlib(x, y, seed):
    model = nnlib.mlp([1, 32, 32, 1], "relu", rng=np.random.default_rng(seed))
    history = nnlib.fit(model, x, y, loss="mse", optimizer="adam", lr=LR, epochs=STEPS)
    return history.loss[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each; the median counts")
    # Seed 0 (and 6) start with every first-layer hinge at x = 0 and stall on a plateau
    # at MSE 4.79 in both implementations alike; seed 1 shows a typical run.
    parser.add_argument("--seed", type=int, default=1, help="seed of the shared initial weights")
    args = parser.parse_args()
    x, y = nnlib.datasets.x_sin_x(256)
    x = x / 10.0
    start_model = nnlib.mlp([1, 32, 32, 1], "relu", rng=np.random.default_rng(args.seed))
    weights = [param for param, _ in start_model.parameters()]

    times = {"hand-written": [], "nnlib": []}
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        start = time.perf_counter()
        hand_mse = hand_written(x, y, weights)
        times["hand-written"].append(time.perf_counter() - start)
        start = time.perf_counter()
        nnlib_mse = with_nnlib(x, y, args.seed)
        times["nnlib"].append(time.perf_counter() - start)

    per_step = {name: 1e6 * np.median(runs) / STEPS for name, runs in times.items()}
    print(f"steps: {STEPS}, repeats: {args.repeats} (median)")
    print(f"hand-written numpy: {per_step['hand-written']:8.1f} us/step  final train MSE {hand_mse:.6f}")
    print(f"nnlib.fit:          {per_step['nnlib']:8.1f} us/step  final train MSE {nnlib_mse:.6f}")
    print(f"ratio nnlib / hand-written: {per_step['nnlib'] / per_step['hand-written']:.3f} (goal <= 1.10)")
    print(f"relative MSE difference: {abs(nnlib_mse - hand_mse) / hand_mse:.2e}")


if __name__ == "__main__":
    main()
