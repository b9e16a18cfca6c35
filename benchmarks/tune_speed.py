"""`nncli tune`: trials trained stacked (`--batch 8`) against one at a time (`--batch 1`), and a
40-trial search against a 40-point grid of the same key.

    python benchmarks/tune_speed.py                  # speed: 40 trials of configs/moons.yaml
    python benchmarks/tune_speed.py --repeats 5 --trials 80
    python benchmarks/tune_speed.py --quality        # tune vs sweep on configs/tune_lr.yaml

Speed: whole `nncli tune` processes (start-up, data, the study, training, every file and
figure), `--sampler random --pruner none` on both sides so that both train the same 40 learning
rates to the end: only how many trials share a stacked pass differs. Runs alternate (K=8, K=1,
K=8, ...) and the ratio of trials per second is the median of per-round ratios, so the load of
a shared machine hits both sides alike; the load average is printed before and after.

Quality: `nncli sweep --vary training.lr=<40 values log-spaced over 1e-4..1>` against `nncli
tune --search training.lr=loguniform(1e-4,1) --trials 40` (TPE, the median pruner): the best
validation loss of each, and their ratio (the target: tune within 2% of the grid's best).
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

ROOT = Path(__file__).resolve().parents[1]
NNCLI = [sys.executable, "-m", "nncli"]


def run(args: list[str]) -> tuple[float, dict]:
    """One `nncli ARGS --json` process: its wall time and its JSON."""
    start = time.perf_counter()
    done = subprocess.run([*NNCLI, *args, "--json"], capture_output=True, text=True, check=True,
                          cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    return time.perf_counter() - start, json.loads(done.stdout)


def speed(trials: int, repeats: int, scratch: Path) -> None:
    search = ["tune", "configs/moons.yaml", "--search", "training.lr=loguniform(1e-3,1)",
              "--trials", str(trials), "--sampler", "random", "--pruner", "none"]  # fmt: skip
    print(f"load average before: {os.getloadavg()}")
    times: dict[int, list[float]] = {8: [], 1: []}
    for r in range(repeats + 1):  # the first round warms the caches, and is not counted
        for k in (8, 1):
            seconds, _ = run([*search, "--batch", str(k), "--out", str(scratch / f"k{k}-{r}")])
            if r:
                times[k].append(seconds)
                print(f"round {r} K={k}: {seconds:.1f} s, {trials / seconds:.2f} trials/s")
    ratios = [one / eight for eight, one in zip(times[8], times[1], strict=True)]
    print(f"load average after: {os.getloadavg()}")
    rounds = ", ".join(f"{x:.2f}" for x in ratios)
    print(f"K=8 median {statistics.median(times[8]):.1f} s, K=1 median"
          f" {statistics.median(times[1]):.1f} s; trials per second K=8 / K=1:"
          f" median {statistics.median(ratios):.2f} (per round {rounds})")  # fmt: skip


def quality(scratch: Path) -> None:
    import numpy as np

    values = ",".join(f"{v:.6g}" for v in np.logspace(-4, 0, 40))
    config = "configs/tune_lr.yaml"
    grid_s, _ = run(["sweep", config, "--vary", f"training.lr={values}", "--out",
                     str(scratch / "grid")])  # fmt: skip
    rows = (scratch / "grid" / "summary.csv").read_text().splitlines()
    header = rows[0].split(",")
    at, lr = header.index("val_loss_mean"), header.index("training.lr")
    losses = [(float(r.split(",")[at]), r.split(",")[lr]) for r in rows[1:] if r.split(",")[at]]
    grid_best, grid_lr = min(losses)
    tune_s, summary = run(["tune", config, "--search", "training.lr=loguniform(1e-4,1)",
                           "--trials", "40", "--out", str(scratch / "tune")])  # fmt: skip
    best = summary["best"]
    print(f"grid of 40: best val loss {grid_best:.5f} at lr {grid_lr} ({grid_s:.1f} s)")
    lr = best["params"]["training.lr"]
    print(f"tune, 40 trials: best val loss {best['val']['loss']:.5f} at lr {lr:.4g}"
          f" ({tune_s:.1f} s; {summary['counts']})")  # fmt: skip
    print(f"tune / grid: {best['val']['loss'] / grid_best:.3f} (target <= 1.02)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", action="store_true", help="tune vs a 40-point grid")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if options.quality:
            quality(Path(scratch))
        else:
            speed(options.trials, options.repeats, Path(scratch))


if __name__ == "__main__":
    main()
