"""Shared fixtures: tiny configs that train in well under a second."""

from __future__ import annotations

import os

# One thread: on a loaded 2-core machine torch's default thread count makes small models 3-7x
# slower. Set before torch is imported; subprocess tests inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config mapping to a YAML file in tmp_path and return its path."""

    def write(data: dict, name: str = "cfg.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        return path

    return write


@pytest.fixture
def tiny_moons(write_config, tmp_path: Path) -> Path:
    return write_config(
        {
            "seed": 3,
            "data": {"source": "moons", "n_samples": 200, "noise": 0.2},
            "model": {"depth": 2, "width": 8, "activation": "tanh"},
            "training": {"lr": 0.1, "batch_size": 16, "epochs": 5, "momentum": 0.9},
            "output": {"dir": str(tmp_path / "runs")},
        },
        "moons.yaml",
    )


@pytest.fixture
def grid_config(write_config, tmp_path: Path) -> Path:
    """A config small enough to train a grid of it in a second or two."""
    return write_config(
        {
            "seed": 4,
            "data": {"source": "moons", "n_samples": 120, "noise": 0.25},
            "model": {"depth": 2, "width": 6, "activation": "tanh"},
            "training": {"lr": 0.1, "batch_size": 16, "epochs": 4},
            "output": {"dir": str(tmp_path / "runs")},
        },
        "small.yaml",
    )
