"""From a config's data section to split, scaled arrays: load, split, fit the encoder and
scalers on the training split, fingerprint."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from nncli.config.data import DataConfig, looks_like_path
from nncli.data.dataset import Dataset, load_registered, with_task
from nncli.data.encoding import Encoder, fit_encoder
from nncli.data.preprocessing import Scaler, fit_scaler, split_indices
from nncli.tasks import TASKS


@dataclass(frozen=True)
class PreparedData:
    """The dataset split, encoded and scaled; `raw` keeps each split's original-unit arrays."""

    dataset: Dataset
    raw: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (X, y): encoded, original units
    rows: dict[str, np.ndarray]  # split -> its rows' CSV line numbers or built-in positions
    encoder: Encoder
    scaler: Scaler
    target_scaler: Scaler | None
    # What the training split shows before training: ids, constants, leaks, values far out.
    warnings: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def n_features(self) -> int:
        """The model's inputs: one per numeric column, one per category of a categorical one."""
        return len(self.encoder.feature_names)

    @property
    def n_outputs(self) -> int:
        return len(self.dataset.classes) if self.dataset.classes else 1

    @property
    def notes(self) -> tuple[str, ...]:
        """What loading did that the setup line says: dropped rows, imputed cells, inferred
        classes."""
        return self.dataset.notes

    @property
    def target_scale(self) -> float:
        """Factor from the trained (scaled) target's units back to the original units."""
        return float(self.target_scaler.scale) if self.target_scaler else 1.0

    def tensors(self, split: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """A split's scaled features (N, F) float32 and targets (N,) on `device`."""
        x, y = self.raw[split]
        x = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32, device=device)
        if TASKS[self.task].classes:
            return x, torch.as_tensor(y, dtype=torch.long, device=device)
        if self.target_scaler is not None:
            y = self.target_scaler.transform(y)
        return x, torch.as_tensor(y, dtype=torch.float32, device=device)

    def fingerprint(self) -> str:
        """A hash of every split's rows, so a resumed run provably sees the data it started with."""
        return self._fingerprint

    @functools.cached_property
    def _fingerprint(self) -> str:
        # Hashed once: the setup, the model cards and the run folder all ask for it.
        digest = hashlib.sha256()
        for split, (x, y) in self.raw.items():
            digest.update(split.encode())
            digest.update(x.tobytes())
            digest.update(y.tobytes())
        return digest.hexdigest()


def load_dataset(data: DataConfig) -> Dataset:
    """Load the data a validated data section names, with the task settled."""
    if looks_like_path(data.source):
        from nncli.data.csvdata import read_csv_dataset

        dataset = read_csv_dataset(data)
    else:
        dataset = load_registered(data)
    return with_task(dataset, data.task)


def prepare_data(data: DataConfig) -> PreparedData:
    """Load, split (seeded by `data.seed` alone), and fit the encoder (categories, imputed
    values) and the scalers on the training split."""
    dataset = load_dataset(data)
    indices = split_indices(
        dataset.y,
        data.split,
        seed=data.seed,
        stratify=TASKS[dataset.task].classes,
        class_names=dataset.classes,
    )
    encoder = fit_encoder(dataset.features.iloc[indices["train"]], data)
    where = data.source if looks_like_path(data.source) else "data"
    raw = {
        name: (encoder.transform(dataset.features.iloc[rows], where), dataset.y[rows])
        for name, rows in indices.items()
    }
    lines = np.asarray(dataset.features.index)
    scaler = fit_scaler(raw["train"][0], data.scaling, unscaled=encoder.one_hot)
    target_scaler = None
    if not TASKS[dataset.task].classes and data.scale_target:
        target_scaler = fit_scaler(raw["train"][1], "standard")
    rows = {name: lines[chosen] for name, chosen in indices.items()}
    warnings = ()
    if looks_like_path(data.source):  # a built-in set is a known table, with no key to set
        from nncli.data.checks import training_warnings  # pandas, as the CSV file's cells

        train = indices["train"]
        warnings = training_warnings(
            dataset.features.iloc[train],
            dataset.y[train],
            data,
            classes=dataset.classes,
            target=dataset.target_name,
        )
    return PreparedData(dataset, raw, rows, encoder, scaler, target_scaler, warnings)
