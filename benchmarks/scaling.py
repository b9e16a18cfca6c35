"""One process against two under torchrun: data-parallel `train` and split sweeps, end to end.

    python benchmarks/scaling.py              # every scenario, 3 repeats
    python benchmarks/scaling.py --repeats 1 --only wide

Each side is the real command (`nncli ...`, or `torchrun --standalone --nproc-per-node 2 -m
nncli ...`) in a fresh process. A run's training time is its wall time less the wall time of
the same command with one epoch (start-up, data, files and plots; torchrun's own start-up is
in there too), so the seconds per epoch compare the training itself; the wall time is what a
user waits. Runs alternate between the sides and medians are kept, because this machine is
small and shared: read the ratios, not the seconds. Every side's metrics are checked against
the single process's (the largest relative difference is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = {
    # Small steps: gloo's all-reduce (about a millisecond here) costs more than the step.
    "small": (
        "train",
        {
            "data": {"source": "moons", "n_samples": 4000},
            "model": {"depth": 2, "width": 16, "activation": "tanh"},
            "training": {"lr": 0.05, "batch_size": 32, "epochs": 20},
        },
    ),
    # Wide layers and a large batch: tens of milliseconds of arithmetic a step.
    "wide": (
        "train",
        {
            "data": {"source": "digits"},
            "model": {"depth": 3, "width": 1024, "activation": "relu"},
            "training": {"lr": 0.05, "batch_size": 256, "epochs": 30},
        },
    ),
    # Thirty models in one stack (every activation x 3 seeds), cut in two parts.
    "compare": (
        "compare-activations",
        {
            "data": {"source": "moons", "n_samples": 2000},
            "model": {"depth": 2, "width": 32},
            "training": {"lr": 0.05, "batch_size": 32, "epochs": 40},
        },
    ),
}

# name -> (processes, extra --set overrides)
SIDES = {
    "1 process, 1 thread": (1, ["training.threads=1"]),
    "1 process, 2 threads": (1, ["training.threads=2"]),
    "2 processes": (2, ["training.threads=1"]),
    "2 processes, batch per process": (2, ["training.threads=1", "training.batch_scope=process"]),
}


def command(kind: str, config: Path, processes: int, sets: list[str], out: Path) -> list[str]:
    head = [sys.executable, "-m", "nncli"]
    if processes > 1:
        head = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={processes}", "-m", "nncli"]  # fmt: skip
    args = [kind, str(config), "--out", str(out), "--json"]
    for item in sets:
        args += ["--set", item]
    return head + args


def run(kind: str, config: Path, processes: int, sets: list[str], scratch: Path) -> tuple:
    out = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if "training.threads=2" in sets:
        env.pop("OMP_NUM_THREADS")
    start = time.perf_counter()
    done = subprocess.run(command(kind, config, processes, sets, out), capture_output=True,
                          text=True, env=env)  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def metric_values(summary: dict) -> list[float]:
    """Every number of a summary's metrics (train) or results (sweeps), in order."""
    found: list[float] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key in sorted(node):
                if key not in ("seconds", "out_dir", "run_dir", "stacks"):
                    walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, float):
            found.append(node)

    walk(summary.get("metrics", summary.get("results")))
    return found


def largest_difference(a: dict, b: dict) -> float:
    pairs = zip(metric_values(a), metric_values(b), strict=True)
    return max((abs(x - y) / max(abs(x), 1e-12) for x, y in pairs), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=list(SCENARIOS))
    args = parser.parse_args()
    import yaml

    scratch = Path(tempfile.mkdtemp())
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print("| scenario | side | wall s | training s/epoch | vs 1 process, 1 thread | metrics |")
    print("|---|---|---:|---:|---:|---|")
    for name, (kind, base) in SCENARIOS.items():
        if args.only and name != args.only:
            continue
        sides = {k: v for k, v in SIDES.items() if kind == "train" or "batch per" not in k}
        config = scratch / f"{name}.yaml"
        config.write_text(yaml.safe_dump(base))
        epochs = base["training"]["epochs"]
        walls = {side: [] for side in sides}
        fixed = {side: [] for side in sides}
        summaries = {}
        for _ in range(args.repeats):
            for side, (processes, sets) in sides.items():
                seconds, summary = run(kind, config, processes, sets, scratch)
                walls[side].append(seconds)
                summaries.setdefault(side, summary)
                one_epoch = [*sets, "training.epochs=1"]
                fixed[side].append(run(kind, config, processes, one_epoch, scratch)[0])
        reference = "1 process, 1 thread"
        per_epoch = {
            side: (statistics.median(walls[side]) - statistics.median(fixed[side])) / (epochs - 1)
            for side in sides
        }
        for side in sides:
            ratio = per_epoch[reference] / per_epoch[side]
            difference = largest_difference(summaries[reference], summaries[side])
            same = "bitwise" if difference == 0 else f"within {difference:.1e} relative"
            if "batch per" in side:
                same = "twice the batch: other steps"
            print(f"| {name} | {side} | {statistics.median(walls[side]):.1f} |"
                  f" {per_epoch[side]:.3f} | {ratio:.2f}x | {same} |")  # fmt: skip
        sys.stdout.flush()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
