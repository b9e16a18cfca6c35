"""What tracking adds to a run: `nncli train configs/moons.yaml` (100 epochs) as a whole process,
with tracking off, TensorBoard, MLflow, and both, in interleaved rounds (the machine's load
drifts between rounds, not within one).

    python benchmarks/tracking.py [--rounds 5]

Prints each setting's median wall and CPU seconds (its tracking worker included) and their
ratio to tracking off. The MLflow store is a SQLite file in a temporary folder, as the default
`mlruns/` is; nothing here is asserted (tests/test_tracking.py checks what is written).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "moons.yaml"
SETTINGS = {
    "off": [],
    "tensorboard": ["--set", "tracking.tensorboard=true"],
    "mlflow": ["--set", "tracking.mlflow={uri: 'sqlite:///{store}'}"],
    "both": ["--set", "tracking.tensorboard=true", "--set",
             "tracking.mlflow={uri: 'sqlite:///{store}'}"],
}  # fmt: skip


def timed(command: list[str]) -> tuple[float, float, list[str]]:
    """(wall, CPU, warning lines) of a run as a whole process, its children included (as
    processes.timed, which drops what the run says)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, [line for line in done.stderr.splitlines() if "warning" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "mlruns" / "mlflow.db"
        for round_ in range(rounds + 1):  # the first round warms the caches and is not counted
            for name, extra in SETTINGS.items():
                out = Path(folder) / f"{name}-{round_}"
                args = [a.replace("{store}", str(store)) for a in extra]
                command = [sys.executable, "-m", "nncli", "train", str(CONFIG), *args,
                           "--out", str(out), "--quiet"]  # fmt: skip
                wall, cpu, warnings = timed(command)
                if round_:
                    times[name].append((wall, cpu))
                print(f"round {round_} {name:12s} wall {wall:6.2f} s  CPU {cpu:6.2f} s", flush=True)
                for line in warnings:
                    print(f"  {line}", flush=True)
    base_wall = statistics.median(w for w, _ in times["off"])
    base_cpu = statistics.median(c for _, c in times["off"])
    print(f"\nmedian of {rounds} rounds      wall        CPU")
    for name, found in times.items():
        wall = statistics.median(w for w, _ in found)
        cpu = statistics.median(c for _, c in found)
        shown = f"{wall:6.2f} s ({wall / base_wall:5.1%})  {cpu:6.2f} s ({cpu / base_cpu:5.1%})"
        print(f"{name:12s} {shown}")


if __name__ == "__main__":
    main()
