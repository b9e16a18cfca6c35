"""What `run.py`'s commands scenario times: every nncli command as a whole process beside its
floor, and where each one's time goes.

Each command runs as `python -m nncli ...` with `NNCLI_PHASES` naming a file, where
`src/nncli/phases.py` writes the boundaries the command marked (the CLI's imports done, the
command's own imports done, data ready, training done, files written, figures drawn, report
written, output printed). This process notes its own `time.perf_counter()` just before starting
the command and just after it exits; on Linux that is the same monotonic clock as the child's, so
the time before the first mark (interpreter start-up and the CLI's imports) and after the last
(the interpreter's teardown) are phases too, and the phases add up to the wall time.

Floors: `python -c pass` for the commands that need no torch; `python -c "import torch"` for
those that do, plus, for the three that train, the same training in this process (`engine.fit`
on the same shapes, rows, epochs and validation split, as `endtoend.py` times it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from endtoend import NNCLI, fit_seconds, moons_splits

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs/moons.yaml"
BARE = "python -c pass"
TORCH = 'python -c "import torch"'
FLOORS = {BARE: [sys.executable, "-c", "pass"], TORCH: [sys.executable, "-c", "import torch"]}
# What each phase holds, named by the mark that ends it (src/nncli/phases.py).
PHASES = {
    "startup": "the interpreter and the CLI's imports (typer, rich), until the command starts",
    "imports": "the command's own imports (torch, pandas, pydantic, ...)",
    "data": "data read, typed, split and scaled (or a run's split rebuilt), checkpoint loaded",
    "training": "every epoch of every model",
    "files": "checkpoints, histories, metrics, summaries",
    "figures": "the PNG figures",
    "report": "report.html",
    "measuring": "the model on the split or file",
    "predicting": "the model's outputs, as a table",
    "output": "what the command prints or writes after its last mark (tables, CSV, YAML)",
    "exit": "the interpreter's teardown, after the command returned",
}
BAR_WIDTH = 40  # characters of the longest phase's bar
EIGHTHS = " ▏▎▍▌▋▊▉"


@dataclass(frozen=True)
class Case:
    """One command, its floor, and the models it trains (for the in-process training floor)."""

    name: str
    args: list[str]  # after `python -m nncli`
    floor: str  # BARE or TORCH
    trains: tuple[list[str], list[int], list[float]] | None = None  # activations, seeds, lrs


def cases(scratch: Path, epochs: int) -> list[Case]:
    """Every command, on a finished run made here first; training commands write elsewhere."""
    runs, run = scratch / "runs", scratch / "runs" / "moons"
    made = subprocess.run([*NNCLI, "train", str(CONFIG), "-s", "training.epochs=5", "--out",
                           str(run), "--quiet"], capture_output=True, text=True)  # fmt: skip
    split = subprocess.run([*NNCLI, "split", str(run), "--out", str(scratch / "split")],
                           capture_output=True, text=True)  # fmt: skip
    for done in (made, split):
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, done.args))}:\n{done.stderr[-2000:]}")
    test_csv = scratch / "split" / "test.csv"
    trained = ["-s", f"training.epochs={epochs}", "--quiet"]
    lrs, activations = [0.05, 0.1, 0.2], ["relu", "tanh", "gelu"]
    sweep = ["sweep", str(CONFIG), "--vary", f"training.lr={','.join(map(str, lrs))}"]
    compare = ["compare-activations", str(CONFIG), "--activations", ",".join(activations)]
    return [
        Case("train", ["train", str(CONFIG), *trained], TORCH, (["relu"], [0], [0.1])),
        Case("sweep", [*sweep, *trained], TORCH, (["relu"] * 3, [0] * 3, lrs)),
        Case(
            "compare-activations",
            [*compare, "--seeds", "2", *trained],
            TORCH,
            ([a for a in activations for _ in (0, 1)], [0, 1] * 3, [0.1] * 6),
        ),
        Case("evaluate", ["evaluate", str(run)], TORCH),
        Case("predict", ["predict", str(run), "--data", str(test_csv)], TORCH),
        Case("split", ["split", str(run), "--out", str(scratch / "exported"), "--force"], TORCH),
        Case("config", ["config", str(CONFIG)], BARE),
        Case("runs", ["runs", str(runs)], BARE),
        Case("report", ["report", str(run), "--no-open"], BARE),
        Case("datasets", ["datasets"], BARE),
        Case("--help", ["--help"], BARE),
    ]


def phased(command: list[str]) -> tuple[float, dict[str, float]]:
    """A command's wall time and its phases' seconds (none when it marked none)."""
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "phases.json"
        env = {**os.environ, "NNCLI_PHASES": str(record)}
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        end = time.perf_counter()
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n"
                               f"{done.stderr[-2000:]}")  # fmt: skip
        marks = json.loads(record.read_text())["marks"] if record.exists() else []
    phases: dict[str, float] = defaultdict(float)
    if not marks or not start <= marks[0][1] <= marks[-1][1] <= end:  # not one clock
        return end - start, {}
    before = start
    for name, at in marks:
        phases[name] += at - before
        before = at
    phases["exit"] += end - before
    return end - start, dict(phases)


def one_round(all_cases: list[Case], scratch: Path, epochs: int) -> dict[str, float]:
    """Every floor and command once, interleaved; phases keyed `command: phase`."""
    config = yaml.safe_load(CONFIG.read_text())
    config["training"]["epochs"] = epochs
    train, val = moons_splits(config["data"]["n_samples"], config["data"]["noise"])
    out = Path(tempfile.mkdtemp(dir=scratch))
    seconds: dict[str, float] = {}
    for label, command in FLOORS.items():
        seconds[label] = phased(command)[0]
    for case in all_cases:
        args = case.args
        if case.trains is not None:
            activations, seeds, lrs = case.trains
            seconds[f"{case.name}: training"] = fit_seconds(config, activations, seeds, train,
                                                            val, lrs=lrs)  # fmt: skip
            args = [*args, "--out", str(out / case.name)]
        wall, phases = phased([*NNCLI, *args])
        seconds[case.name] = wall
        seconds |= {f"{case.name}: {phase}": s for phase, s in phases.items()}
    return seconds


def floor(case: Case, seconds: dict[str, float]) -> float:
    """The case's floor in one round: import torch (plus its training), or the bare interpreter."""
    return seconds[case.floor] + seconds.get(f"{case.name}: training", 0.0)


def bar(seconds: float, scale: float) -> str:
    """`seconds` as a bar of full blocks and an eighth, `scale` seconds to BAR_WIDTH blocks."""
    eighths = round(seconds / scale * BAR_WIDTH * 8) if scale > 0 else 0
    full, part = divmod(eighths, 8)
    return "█" * full + EIGHTHS[part].strip()
