"""What `run.py` times through whole commands: 30 models stacked against one at a time, and
`nncli train` as a process against importing torch plus the training itself.

Commands run as subprocesses of this Python (`python -m nncli ...`), with OMP_NUM_THREADS set by
`run.py`, so their wall time includes interpreter start-up, imports, data, files and plots.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from sides import Data, Timer

from nncli.model.mlp import StackedMLP
from nncli.train.engine import fit
from nncli.train.sgd import SGDSettings
from nncli.train.state import FitOptions, FitSettings, ModelSettings

# Six activations x five seeds: the 30 models of the stacked scenario.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu")
SEEDS = 5
NNCLI = [sys.executable, "-m", "nncli"]


def wall(command: list[str]) -> float:
    """Seconds a subprocess takes from start to exit; its failure is the harness's."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def moons_config(depth: int, width: int, epochs: int, lr: float = 0.1) -> dict:
    return {
        "data": {"source": "moons", "n_samples": 1000, "noise": 0.2},
        "model": {"depth": depth, "width": width, "activation": "relu"},
        "training": {"lr": lr, "batch_size": 32, "epochs": epochs},
    }


def moons_splits(n_samples: int, noise: float, seed: int = 0) -> tuple[Data, Data]:
    """Moons cut 70/15 (nncli's default train and val fractions), standardized on the train part."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples, noise=noise, random_state=seed)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    n_train, n_val = int(0.7 * n_samples), int(0.15 * n_samples)
    x = (x - x[:n_train].mean(dim=0)) / x[:n_train].std(dim=0)
    return (x[:n_train], y[:n_train]), (x[n_train : n_train + n_val], y[n_train : n_train + n_val])


def fit_seconds(
    config: dict,
    activations: list[str],
    seeds: list[int],
    train: Data,
    val: Data,
    *,
    lrs: list[float] | None = None,
) -> float:
    """`engine.fit` on the models of `config`'s shape, one per (activation, seed), as one stack;
    each at its own rate of `lrs` when given (a sweep of training.lr), else the config's."""
    sizes = [2, *[config["model"]["width"]] * config["model"]["depth"], 2]
    model = StackedMLP.from_seeds(sizes, activations, seeds)
    training = config["training"]
    settings = FitSettings(batch_size=training["batch_size"], epochs=training["epochs"])
    lrs = lrs or [training["lr"]] * len(seeds)
    models = [ModelSettings(seed, SGDSettings(lr=lr)) for seed, lr in zip(seeds, lrs, strict=True)]
    with Timer("cpu") as timer:
        fit(model, train, val, FitOptions("classification", settings, models))
    return timer.seconds


def stacked_runs(config: dict, scratch: Path) -> dict[str, float]:
    """One interleaved round: the 30 models through `nncli compare-activations`, stacked and
    `--sequential`, through `engine.fit` as one stack and as 30 stacks of one, and
    `python -c "import torch"` (the command's floor is that plus the stacked training)."""
    path = Path(tempfile.mkdtemp(dir=scratch)) / "base.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [
        *NNCLI,
        "compare-activations",
        str(path),
        "--activations",
        ",".join(ACTIVATIONS),
        "--seeds",
        str(SEEDS),
        "--quiet",
    ]
    activations = [a for a in ACTIVATIONS for _ in range(SEEDS)]  # contiguous runs along K
    seeds = list(range(SEEDS)) * len(ACTIVATIONS)
    train, val = moons_splits(config["data"]["n_samples"], config["data"]["noise"])
    return {
        "command stacked": wall([*command, "--out", str(path.parent / "stacked")]),
        "command sequential": wall([*command, "--sequential", "--out", str(path.parent / "seq")]),
        "engine stacked": fit_seconds(config, activations, seeds, train, val),
        "import torch": wall([sys.executable, "-c", "import torch"]),
        "engine sequential": sum(
            fit_seconds(config, [a], [s], train, val)
            for a, s in zip(activations, seeds, strict=True)
        ),
    }


def whole_process_runs(config_path: Path, epochs: int, scratch: Path) -> dict[str, float]:
    """One interleaved round: `nncli train` on a config, `python -c "import torch"`, the same
    training in this process through `engine.fit`, and `nncli --help`."""
    config = yaml.safe_load(config_path.read_text())
    config["training"]["epochs"] = epochs
    data = config["data"]
    train, val = moons_splits(data["n_samples"], data["noise"])
    out = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    return {
        "nncli train": wall(
            [
                *NNCLI,
                "train",
                str(config_path),
                "--set",
                f"training.epochs={epochs}",
                "--out",
                str(out),
                "--quiet",
            ]
        ),
        "import torch": wall([sys.executable, "-c", "import torch"]),
        "training": fit_seconds(config, [config["model"]["activation"]], [0], train, val),
        "nncli --help": wall([*NNCLI, "--help"]),
    }
