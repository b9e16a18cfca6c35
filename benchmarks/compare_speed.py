"""Stacked (vectorized) training of many models against training them one after another.

    python benchmarks/compare_speed.py                       # the grid below, 10 epochs
    python benchmarks/compare_speed.py --depths 6 --widths 32 --end-to-end

Thirty models (6 activations x 5 seeds) of each shape train through the same engine
(`nncli.engine.fit`, with the first-epoch gradient probe `compare-activations` uses): once stacked
along a model axis (K = 30), and once one model at a time (K = 1, the path `nncli train` takes).
Runs alternate (stacked, sequential, ...) and medians are compared, because this machine is
small and noisy. `--end-to-end` also times the whole `compare_activations` call, which adds the
same per-model measurement (scikit-learn metrics, diagnostics) to both sides.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from nncli.compare import compare_activations
from nncli.config import validate_config
from nncli.engine import fit
from nncli.model import StackedMLP, layer_sizes
from nncli.training import fit_settings, prepare_data, resolve_config

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"]


def time_fit(config, prepared, activations: list[str], seeds: list[int], stacked: bool) -> float:
    train, val = prepared.tensors("train", "cpu"), prepared.tensors("val", "cpu")
    sizes = layer_sizes(train[0].shape[1], config.model.widths, prepared.n_outputs)
    settings = fit_settings(config, len(train[0]))
    groups = (
        [(activations, seeds)]
        if stacked
        else [([a], [s]) for a, s in zip(activations, seeds, strict=True)]
    )
    start = time.perf_counter()
    for names, group_seeds in groups:
        model = StackedMLP.from_seeds(sizes, names, group_seeds)
        fit(model, train, val, task=prepared.task, settings=settings, seeds=group_seeds,
            probe_gradients=True)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", default="2,4,8")
    parser.add_argument("--widths", default="16,32,64")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--end-to-end", action="store_true")
    args = parser.parse_args()

    activations = [a for a in ACTIVATIONS for _ in range(args.seeds)]
    seeds = [s for _ in ACTIVATIONS for s in range(args.seeds)]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads;"
        f" {len(activations)} models ({len(ACTIVATIONS)} activations x {args.seeds} seeds),"
        f" moons {args.samples} rows, batch {args.batch_size}, {args.epochs} epochs"
    )
    print(f"{'depth':>5} {'width':>5} {'stacked s':>10} {'sequential s':>13} {'speed-up':>9}")
    for depth in map(int, args.depths.split(",")):
        for width in map(int, args.widths.split(",")):
            config = resolve_config(
                validate_config(
                    {
                        "data": {"source": "moons", "n_samples": args.samples},
                        "model": {"depth": depth, "width": width},
                        "training": {
                            "lr": 0.1,
                            "batch_size": args.batch_size,
                            "epochs": args.epochs,
                        },
                    }
                )
            )
            prepared = prepare_data(config)
            stacked, sequential = [], []
            for _ in range(args.repeats):
                stacked.append(time_fit(config, prepared, activations, seeds, stacked=True))
                sequential.append(time_fit(config, prepared, activations, seeds, stacked=False))
            a, b = statistics.median(stacked), statistics.median(sequential)
            print(f"{depth:>5} {width:>5} {a:>10.3f} {b:>13.3f} {b / a:>8.1f}x")
            if args.end_to_end:
                runs = {}
                for sequential_mode in (False, True):
                    start = time.perf_counter()
                    compare_activations(
                        config, prepared, activations=ACTIVATIONS, seeds=list(range(args.seeds)),
                        sequential=sequential_mode,
                    )  # fmt: skip
                    runs[sequential_mode] = time.perf_counter() - start
                print(
                    f"{'':>11} end to end: stacked {runs[False]:.2f} s, sequential"
                    f" {runs[True]:.2f} s, {runs[True] / runs[False]:.1f}x"
                )


if __name__ == "__main__":
    main()
