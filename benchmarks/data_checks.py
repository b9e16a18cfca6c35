"""What the data checks before training cost: `training_warnings` on a 54,000-row, 10-column
table shaped like the diamonds table (six measurements, three categories, a row number, two
typos far out), beside the whole `prepare_data` of the same table read from CSV.

    PYTHONPATH=src python benchmarks/data_checks.py

Prints the best of several repeats, as wall and CPU time (the CPU time is steadier on a shared
machine), for a regression, a two-class and a four-class target."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nncli.config.data import DataConfig
from nncli.data.checks import training_warnings
from nncli.data.prepared import prepare_data

ROWS, REPEATS = 54_000, 7


def diamonds(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    carat = rng.gamma(2, 0.4, ROWS)
    size = carat ** (1 / 3)
    cells = pd.DataFrame(
        {
            "rownames": np.arange(1, ROWS + 1, dtype=np.float64),
            "carat": carat.round(2),
            "cut": rng.choice(["Fair", "Good", "Very Good", "Premium", "Ideal"], ROWS),
            "color": rng.choice(list("DEFGHIJ"), ROWS),
            "clarity": rng.choice(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"], ROWS),
            "depth": rng.normal(61.7, 1.4, ROWS).round(1),
            "table": rng.normal(57, 2.2, ROWS).round(0),
            "x": (6 * size).round(2),
            "y": (6 * size + rng.normal(0, 0.05, ROWS)).round(2),
            "z": (3.7 * size).round(2),
        }
    )
    cells.loc[[100, 200], "y"] = [58.9, 31.8]  # the table's two typos, 40-46 sd out
    price = np.exp(8 + 1.5 * np.log(carat) + rng.normal(0, 0.2, ROWS)).round(0)
    return cells, price


def best(call) -> tuple[float, float]:
    """The fastest of REPEATS calls, as (wall, CPU) milliseconds."""
    call()
    walls, cpus = [], []
    for _ in range(REPEATS):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return 1000 * min(walls), 1000 * min(cpus)


def main() -> None:
    cells, price = diamonds(np.random.default_rng(0))
    targets = {
        "regression": (price, None),
        "2 classes": ((price > np.median(price)).astype(np.int64), ["low", "high"]),
        "4 classes": (np.digitize(price, np.quantile(price, [0.25, 0.5, 0.75])), [0, 1, 2, 3]),
    }
    data = DataConfig(source="diamonds.csv", target="price")
    print(f"training_warnings on {ROWS:,} rows x {cells.shape[1]} columns (best of {REPEATS})")
    for name, (y, classes) in targets.items():

        def check(y=y, classes=classes):
            return training_warnings(cells, y, data, classes=classes, target="price")

        wall, cpu = best(check)
        print(f"  {name:<10} {wall:6.1f} ms wall, {cpu:6.1f} ms CPU")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "diamonds.csv"
        cells.assign(price=price).to_csv(path, index=False)
        whole = {"train": 1, "val": 0, "test": 0}
        config = DataConfig(source=str(path), target="price", split=whole)
        wall, cpu = best(lambda: prepare_data(config))
        print(f"prepare_data of the same table from CSV, checks included: {wall:.0f} ms wall,"
              f" {cpu:.0f} ms CPU")  # fmt: skip
        for line in prepare_data(config).warnings:
            print("  warning:", line)


if __name__ == "__main__":
    main()
