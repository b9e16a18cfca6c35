"""Stacked (vectorized) training of many models against training them one after another.

    python benchmarks/compare_speed.py                   # 6 activations x 5 seeds, 4 x 32
    python benchmarks/compare_speed.py --depth 8 --width 64 --epochs 10

Both sides go through the same engine (`nncli.compare.compare_activations`) on the same split,
models and batches; only `sequential` differs. Runs alternate (stacked, sequential, ...) and the
medians are compared, because this machine is small and noisy. The script also checks that both
ways give the same test metrics to 1e-4 relative.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from nncli.compare import compare_activations
from nncli.config import validate_config
from nncli.training import prepare_data, resolve_config

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = resolve_config(
        validate_config(
            {
                "data": {"source": "moons", "n_samples": args.samples},
                "model": {"depth": args.depth, "width": args.width},
                "training": {"lr": 0.1, "batch_size": args.batch_size, "epochs": args.epochs},
            }
        )
    )
    prepared = prepare_data(config)
    seeds = list(range(args.seeds))

    def run(sequential: bool) -> tuple[float, list]:
        start = time.perf_counter()
        outcomes = compare_activations(
            config, prepared, activations=ACTIVATIONS, seeds=seeds, sequential=sequential
        )
        return time.perf_counter() - start, outcomes

    stacked_times, sequential_times = [], []
    for _ in range(args.repeats):
        t, stacked = run(False)
        stacked_times.append(t)
        t, sequential = run(True)
        sequential_times.append(t)
    for a, b in zip(stacked, sequential, strict=True):
        for name, value in a.metrics["test"].items():
            if isinstance(value, float):
                assert math.isclose(value, b.metrics["test"][name], rel_tol=1e-4), (
                    a.activation,
                    name,
                )

    models = len(ACTIVATIONS) * args.seeds
    t_stacked, t_sequential = statistics.median(stacked_times), statistics.median(sequential_times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = len(prepared.raw["train"][1])
    print(
        f"{models} models ({len(ACTIVATIONS)} activations x {args.seeds} seeds),"
        f" depth {args.depth}, width {args.width}, batch {args.batch_size},"
        f" {args.epochs} epochs, {rows} training rows"
    )
    for label, times in (("stacked", stacked_times), ("sequential", sequential_times)):
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"{label + ':':11} {statistics.median(times):7.2f} s  (runs: {runs})")
    print(f"speed-up:   {t_sequential / t_stacked:7.1f}x   (test metrics agree to 1e-4)")


if __name__ == "__main__":
    main()
