"""What `run.py` times as whole processes against scikit-learn on a CSV table: the cost of an
epoch, and an 18-model sweep.

Both sides are fresh processes reading the same CSV file (synthetic classification rows from
`sides.classification_data`: no table that large ships on this machine): `python -m nncli ...`
and `benchmarks/sklearn_fit.py`, which fits MLPClassifiers one after another on as many rows as
nncli's training split holds (70%). Their wall time includes start-up, imports, reading the
table and, for nncli, its files and figures; an epoch's cost is the difference between two runs
that differ only in their epochs, over the epochs that differ, so that all of that cancels.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from endtoend import NNCLI
from sides import classification_data

HERE = Path(__file__).resolve().parent
TRAIN_FRACTION = 0.7  # nncli's default split: 70/15/15
LR = 0.05
# The sweep: 3 learning rates x 2 weight decays x 3 seeds.
SWEEP_LRS = (0.01, 0.03, 0.1)
SWEEP_DECAYS = (0.0, 0.0001)
SWEEP_SEEDS = 3


def timed(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a subprocess from start to exit; its failure is the harness's.

    CPU seconds (user + system, its threads and children included) are what a single-threaded
    process costs whatever else the machine runs; wall seconds also count the waits for a core
    that other jobs hold, which on a loaded machine swamp an epoch's difference. nncli's figure
    worker outlives the command by a moment (it ends when the command's pipe closes): this
    process adopts it (`adopt_orphans`) and reaps it, so its CPU seconds count too."""
    adopt_orphans()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the children reaped so far
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def adopt_orphans() -> None:
    """Make this process the parent of its descendants orphaned by their own parent's exit
    (Linux's PR_SET_CHILD_SUBREAPER), so that reaping them adds their CPU seconds to
    RUSAGE_CHILDREN. Elsewhere a no-op: their seconds are then not counted."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_orphans() -> None:
    """Wait for every descendant adopted by `adopt_orphans` to end."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def write_table(path: Path, rows: int, features: int = 20, classes: int = 4) -> Path:
    """A CSV table of `rows` Gaussian rows labelled by a random linear rule (column `y`)."""
    x, y = classification_data(rows, features, classes, seed=0, device="cpu")
    header = ",".join([*(f"x{i}" for i in range(features)), "y"])
    lines = (
        ",".join(f"{v:.6f}" for v in row) + f",{label}"
        for row, label in zip(x.tolist(), y.tolist(), strict=True)
    )
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def _config(table: Path, scratch: Path, hidden: int, depth: int, epochs: int) -> Path:
    """nncli's config for `table`: plain SGD, no early stopping (scikit-learn's is off too)."""
    config = {
        "data": {"source": str(table), "target": "y"},
        "model": {"depth": depth, "width": hidden, "activation": "relu"},
        "training": {"lr": LR, "batch_size": 32, "epochs": epochs, "early_stopping": None},
    }
    path = Path(tempfile.mkdtemp(dir=scratch)) / "table.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _sklearn(table: Path, rows: int, epochs: int, hidden: str, models: list[str]) -> list[str]:
    return [
        sys.executable,
        str(HERE / "sklearn_fit.py"),
        str(table),
        "--epochs",
        str(epochs),
        "--train-rows",
        str(round(rows * TRAIN_FRACTION)),
        "--hidden",
        hidden,
        "--models",
        *models,
    ]


def epoch_runs(table: Path, rows: int, epochs: tuple[int, int], scratch: Path) -> dict[str, float]:
    """One interleaved round: `nncli train` and scikit-learn's script at each of two epoch
    counts, 2x64 ReLU, batch 32, lr 0.05."""
    config = _config(table, scratch, 64, 2, epochs[0])
    seconds = {}
    for e in epochs:
        out = Path(tempfile.mkdtemp(dir=scratch)) / "run"
        train = [*NNCLI, "train", str(config), "--set", f"training.epochs={e}", "--out", str(out)]
        sklearn = _sklearn(table, rows, e, "64,64", [f"{LR}:0:0"])
        for side, command in (("nncli", [*train, "--quiet"]), ("scikit-learn", sklearn)):
            seconds[f"{side} {e} wall"], seconds[f"{side} {e} cpu"] = timed(command)
    return seconds


def per_epoch(seconds: dict[str, float], side: str, epochs: tuple[int, int], clock: str) -> float:
    """A side's seconds per epoch: the longer run less the shorter, over the epochs between;
    `clock` is "wall" or "cpu"."""
    short, long = epochs
    return (seconds[f"{side} {long} {clock}"] - seconds[f"{side} {short} {clock}"]) / (long - short)


def sweep_runs(table: Path, rows: int, epochs: int, scratch: Path) -> dict[str, float]:
    """One interleaved round: the 18 models through `nncli sweep` (stacked) and through
    scikit-learn's script, one after another."""
    config = _config(table, scratch, 64, 2, epochs)
    out = Path(tempfile.mkdtemp(dir=scratch)) / "sweep"
    vary = [
        "--vary",
        "training.lr=" + ",".join(map(str, SWEEP_LRS)),
        "--vary",
        "training.weight_decay=" + ",".join(map(str, SWEEP_DECAYS)),
    ]
    models = [
        f"{lr}:{decay}:{seed}"
        for lr in SWEEP_LRS
        for decay in SWEEP_DECAYS
        for seed in range(SWEEP_SEEDS)
    ]
    sweep = [*NNCLI, "sweep", str(config), *vary, "--seeds", str(SWEEP_SEEDS), "--out", str(out)]
    seconds = {}
    for side, command in (
        ("nncli sweep", [*sweep, "--quiet"]),
        ("scikit-learn, one after another", _sklearn(table, rows, epochs, "64,64", models)),
    ):
        seconds[f"{side} wall"], seconds[f"{side} cpu"] = timed(command)
    return seconds
