"""From a config's data section to split, scaled arrays: load, split, fit scalers, fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nncli.config import DataConfig, looks_like_path
from nncli.datasets import Dataset, load_registered, with_task
from nncli.preprocessing import Scaler, fit_scaler, split_indices


@dataclass(frozen=True)
class PreparedData:
    """The dataset split and scaled; `raw` keeps each split's original-unit arrays."""

    dataset: Dataset
    raw: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (X, y), original units
    scaler: Scaler
    target_scaler: Scaler | None

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def n_features(self) -> int:
        return len(self.dataset.feature_names)

    @property
    def n_outputs(self) -> int:
        return len(self.dataset.classes) if self.dataset.classes else 1

    @property
    def target_scale(self) -> float:
        """Factor from the trained (scaled) target's units back to the original units."""
        return float(self.target_scaler.scale) if self.target_scaler else 1.0

    def tensors(self, split: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """A split's scaled features (N, F) float32 and targets (N,) on `device`."""
        x, y = self.raw[split]
        x = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32, device=device)
        if self.task == "classification":
            return x, torch.as_tensor(y, dtype=torch.long, device=device)
        if self.target_scaler is not None:
            y = self.target_scaler.transform(y)
        return x, torch.as_tensor(y, dtype=torch.float32, device=device)

    def fingerprint(self) -> str:
        """A hash of every split's rows, so a resumed run provably sees the data it started with."""
        digest = hashlib.sha256()
        for split, (x, y) in self.raw.items():
            digest.update(split.encode())
            digest.update(x.tobytes())
            digest.update(y.tobytes())
        return digest.hexdigest()


def load_dataset(data: DataConfig) -> Dataset:
    """Load the data a validated data section names, with the task settled."""
    if looks_like_path(data.source):
        from nncli.csvdata import read_csv_dataset

        dataset = read_csv_dataset(
            Path(data.source), data.target or "", data.task, data.ignore_columns
        )
    else:
        dataset = load_registered(data)
    return with_task(dataset, data.task)


def prepare_data(data: DataConfig) -> PreparedData:
    """Load, split (seeded by `data.seed` alone) and fit scalers on the training split."""
    dataset = load_dataset(data)
    indices = split_indices(
        dataset.y,
        data.split,
        seed=data.seed,
        stratify=dataset.task == "classification",
        class_names=dataset.classes,
    )
    raw = {name: (dataset.X[rows], dataset.y[rows]) for name, rows in indices.items()}
    scaler = fit_scaler(raw["train"][0], data.scaling)
    target_scaler = None
    if dataset.task == "regression" and data.scale_target:
        target_scaler = fit_scaler(raw["train"][1], "standard")
    return PreparedData(dataset, raw, scaler, target_scaler)
