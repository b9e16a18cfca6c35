"""A grid trained stacked (one batched pass per stack) against one model at a time.

    python benchmarks/sweep_speed.py                       # 4 lr x 3 seeds on moons
    python benchmarks/sweep_speed.py --seeds 5 --set model.depth=4 --set model.width=32 \\
        --vary model.activation=sigmoid,tanh,relu,leaky_relu,elu,gelu   # 30 models

Both sides go through `commands.run_sweep`, the code behind `nncli sweep`, end to end: grid
validation, data, training, per-model metrics, and every file and plot of the sweep folder
(`--engine-only` times `training.train_stack` alone, without files). The sequential side is
`--sequential`: each model its own stack, trained as `nncli train` trains one. Runs alternate
(stacked, sequential, ...) and medians are compared, because this machine is small and shared;
the ratio of the two is what to read, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from nncli.app.commands import run_sweep
from nncli.data.prepared import prepare_data
from nncli.grid.spec import build_grid
from nncli.train.stack import train_stack

BASE = {
    "data": {"source": "moons", "n_samples": 1000},
    "model": {"depth": 2, "width": 16, "activation": "relu"},
    "training": {"batch_size": 32, "epochs": 20},
}


def time_command(config: Path, args, sequential: bool, scratch: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=scratch))
    start = time.perf_counter()
    run_sweep(config, args.set, vary=args.vary, n_seeds=args.seeds, sequential=sequential,
              out=out / "sweep")  # fmt: skip
    return time.perf_counter() - start


def time_engine(config: Path, args, sequential: bool) -> float:
    grid = build_grid(config, args.set, args.vary, args.seeds, sequential=sequential)
    prepared = prepare_data(grid.models[0].config.data)
    start = time.perf_counter()
    for stack in grid.stacks:
        train_stack([grid.models[i].config for i in stack], prepared)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vary", action="append", default=None)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine-only", action="store_true")
    args = parser.parse_args()
    args.vary = args.vary or ["training.lr=1,0.1,0.01,0.001"]
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "base.yaml"
        config.write_text(yaml.safe_dump(BASE))
        grid = build_grid(config, args.set, args.vary, args.seeds)
        print(f"grid: {' x '.join(args.vary)} x {args.seeds} seeds = {len(grid.models)} models"
              f" in {len(grid.stacks)} stack(s); {args.set or 'base config'}; {args.threads}"
              f" thread(s); {'engine only' if args.engine_only else 'end to end'}")  # fmt: skip
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for sequential in (False, True):
                if args.engine_only:
                    seconds = time_engine(config, args, sequential)
                else:
                    seconds = time_command(config, args, sequential, Path(scratch))
                times[sequential].append(seconds)
    stacked, sequential = statistics.median(times[False]), statistics.median(times[True])
    print(f"stacked    {stacked:8.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[False])})")
    print(f"sequential {sequential:8.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[True])})")
    print(f"speed-up   {sequential / stacked:8.2f}x")


if __name__ == "__main__":
    main()
