"""Whole-process `nncli train` against `import torch` plus the training itself, and `--help`.

    python benchmarks/startup.py                 # configs/moons.yaml, 100 epochs, 5 rounds
    python benchmarks/startup.py --rounds 7 --importtime

Each round runs, one after another in fresh processes: `python -c "import torch"`;
`nncli train CONFIG --set training.epochs=100 --quiet` (wall time of the whole process); the
same training inside one process, timed from the setup line to the last epoch's report (the
training itself: model, steps, validation); and `nncli --help`. Rounds interleave the four and
medians are reported (and the median of each round's own ratio), because this machine is small
and shared. The issue's targets: the whole process within 1.5x of torch's import plus the
training, `--help` within 0.3 s.
`--importtime` adds `python -X importtime`'s self time summed by top-level package.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The training alone, in one process: from the setup line (printed just before training starts)
# to the last epoch's report.
TRAINING = """
import sys, time
from pathlib import Path
from nncli.app.commands import run_train
from nncli.grid.session import Session
marks = {}
run_train(Path(sys.argv[1]), sys.argv[3:], out=Path(sys.argv[2]), session=Session(
          on_setup=lambda setup: marks.setdefault("setup", time.perf_counter()),
          on_epoch=lambda report: marks.__setitem__("last", time.perf_counter())))
print(marks["last"] - marks["setup"])
"""


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def importtime(command: list[str]) -> dict[str, float]:
    """Seconds of import (self time) by top-level package, from `python -X importtime`."""
    result = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            check=True)  # fmt: skip
    totals: collections.Counter = collections.Counter()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            _, self_us, _, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
            totals[name.split(".")[0]] += int(self_us) / 1e6
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/moons.yaml")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    overrides = [f"training.epochs={args.epochs}"]
    nncli = [sys.executable, "-m", "nncli"]
    times: dict[str, list[float]] = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            out = Path(scratch) / str(round_)
            times["import torch"].append(wall([sys.executable, "-c", "import torch"]))
            train = [*nncli, "train", str(args.config), "--quiet", "--out", str(out / "whole")]
            times["whole"].append(wall([*train, *(a for o in overrides for a in ("-s", o))]))
            training = subprocess.run(
                [sys.executable, "-c", TRAINING, str(args.config), str(out / "in"), *overrides],
                check=True, capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            times["training"].append(float(training.stdout.split()[-1]))
            times["--help"].append(wall([*nncli, "--help"]))
        if args.importtime:
            train = ["-m", "nncli", "train", str(args.config), "--quiet", "--out"]
            by_package = importtime([*train, str(Path(scratch) / "imports")])
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:>12}: median {median[name]:.2f} s  ({shown})")
    budget = median["import torch"] + median["training"]
    rounds = zip(times["whole"], times["import torch"], times["training"], strict=True)
    each = statistics.median(whole / (torch + training) for whole, torch, training in rounds)
    print(f"whole / (import torch + training) = {median['whole']:.2f} / {budget:.2f}"
          f" = {median['whole'] / budget:.2f}x; median of the rounds' ratios {each:.2f}x"
          " (target <= 1.5x)")  # fmt: skip
    print(f"--help: {median['--help']:.2f} s (target <= 0.3 s)")
    if args.importtime:
        print("import self time by package (one run of nncli train):")
        for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {package:<16} {seconds:.2f} s")
        print(f"  {'all':<16} {sum(by_package.values()):.2f} s")


if __name__ == "__main__":
    main()
