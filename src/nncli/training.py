"""From a validated config to a trained, measured model: data, split, scaling, fit, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nncli.checkpoint import ModelCard
from nncli.config import Config
from nncli.datasets import Dataset, describe_source, load_dataset
from nncli.engine import EpochReport, FitResult, FitSettings, TrainingState, fit
from nncli.errors import RunFailedError, UsageError
from nncli.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_metrics,
    regression_metrics,
)
from nncli.model import StackedMLP, check_fits_in_memory, layer_sizes
from nncli.preprocessing import SPLITS, Scaler, fit_scaler, split_indices


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
    def n_outputs(self) -> int:
        return len(self.dataset.classes) if self.dataset.classes else 1

    def tensors(self, split: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """A split's scaled features (N, F) float32 and targets (N,) on `device`."""
        x, y = self.raw[split]
        x = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32, device=device)
        if self.task == "classification":
            return x, torch.as_tensor(y, dtype=torch.long, device=device)
        if self.target_scaler is not None:
            y = self.target_scaler.transform(y)
        return x, torch.as_tensor(y, dtype=torch.float32, device=device)


def data_fingerprint(prepared) -> str:
    """A hash of every split's rows, so a resumed run provably sees the data it started with."""
    import hashlib

    digest = hashlib.sha256()
    for split, (x, y) in prepared.raw.items():
        digest.update(split.encode())
        digest.update(x.tobytes())
        digest.update(y.tobytes())
    return digest.hexdigest()


def resolve_config(config: Config) -> Config:
    """Fill in what depends on the data source (a synthetic set's sample count and noise)."""
    return config.model_copy(update={"data": describe_source(config.data)})


def prepare_data(config: Config) -> PreparedData:
    """Load, split (seeded by `data.seed` alone) and fit scalers on the training split."""
    dataset = load_dataset(config.data)
    stratify = dataset.task == "classification"
    indices = split_indices(
        dataset.y,
        config.data.split,
        seed=config.data.seed,
        stratify=stratify,
        class_names=dataset.classes,
    )
    raw = {name: (dataset.X[rows], dataset.y[rows]) for name, rows in indices.items()}
    scaler = fit_scaler(raw["train"][0], config.data.scaling)
    target_scaler = None
    if dataset.task == "regression" and config.data.scale_target:
        target_scaler = fit_scaler(raw["train"][1], "standard")
    return PreparedData(dataset, raw, scaler, target_scaler)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("training.device: cuda requested but no CUDA device is available")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def fit_settings(config: Config, n_train: int) -> FitSettings:
    training = config.training
    stopping = training.early_stopping
    return FitSettings(
        lr=training.lr,
        batch_size=min(training.batch_size, n_train),
        epochs=training.epochs,
        momentum=training.momentum,
        weight_decay=training.weight_decay,
        nesterov=training.nesterov,
        patience=stopping.patience if stopping else None,
        min_delta=stopping.min_delta if stopping else 0.0,
    )


def target_scale(prepared: PreparedData) -> float:
    """Factor from the trained (scaled) target's units back to the original units."""
    return float(prepared.target_scaler.scale) if prepared.target_scaler else 1.0


@dataclass
class TrainOutcome:
    net: nn.Sequential
    card: ModelCard
    fit: FitResult
    metrics: dict[str, dict]
    warnings: list[str]
    stacked: StackedMLP


def train_model(
    config: Config,
    prepared: PreparedData,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainingState, list[torch.Tensor]], None] | None = None,
    resume: tuple[TrainingState, list[torch.Tensor]] | None = None,
) -> TrainOutcome:
    """Train the one model `config` describes and measure it on every split.

    `on_checkpoint(state, params)` gets the resumable state after every epoch; `resume` is such
    a state with its parameters. When `should_stop` ends training early, the outcome's
    `fit.stopped` is set and nothing is measured.
    """
    check_fits_in_memory(stacked_sizes(config, prepared), n_models=1)
    device = resolve_device(config.training.device)
    train = prepared.tensors("train", device)
    val = prepared.tensors("val", device) if "val" in prepared.raw else None
    warnings = []
    if config.training.batch_size > len(train[0]):
        warnings.append(
            f"training.batch_size {config.training.batch_size} is larger than the training split"
            f" ({len(train[0])} rows); using {len(train[0])}"
        )
    sizes = stacked_sizes(config, prepared)
    stacked = StackedMLP.from_seeds(sizes, [config.model.activation], [config.seed])
    if resume is not None:
        load_parameters(stacked, resume[1])
    stacked = stacked.to(device)
    checkpoint = None
    if on_checkpoint is not None:

        def checkpoint(state: TrainingState) -> None:
            on_checkpoint(state, list(stacked.parameters()))

    result = fit(
        stacked,
        train,
        val,
        task=prepared.task,
        settings=fit_settings(config, len(train[0])),
        seeds=[config.seed],
        target_scale=target_scale(prepared),
        on_epoch=on_epoch,
        should_stop=should_stop,
        on_checkpoint=checkpoint,
        resume=resume[0] if resume is not None else None,
    )
    card = model_card(config, prepared, sizes)
    if result.stopped is not None:
        return TrainOutcome(stacked.member(0).cpu(), card, result, {}, warnings, stacked)
    if result.diverged[0] is not None:
        epoch, step = result.diverged[0]
        raise RunFailedError(
            f"training diverged: the loss became non-finite at epoch {epoch}, step {step};"
            f" try a smaller training.lr (now {config.training.lr:g})"
        )
    net = stacked.member(0).cpu().eval()
    return TrainOutcome(net, card, result, measure_splits(net, card, prepared), warnings, stacked)


def stacked_sizes(config: Config, prepared: PreparedData) -> list[int]:
    """Layer sizes, inputs first, of the network `config` builds for this data."""
    n_features = prepared.raw["train"][0].shape[1]
    return layer_sizes(n_features, config.model.widths, prepared.n_outputs)


def load_parameters(model: StackedMLP, params: list[torch.Tensor]) -> None:
    """Copy saved stacked parameters into `model`, refusing any that do not fit."""
    mine = list(model.parameters())
    shapes = [tuple(p.shape) for p in mine]
    if shapes != [tuple(p.shape) for p in params]:
        raise UsageError(f"saved parameters do not fit the model's shapes {shapes}")
    with torch.no_grad():
        for target, saved in zip(mine, params, strict=True):
            target.copy_(saved)


def model_card(config: Config, prepared: PreparedData, sizes: list[int]) -> ModelCard:
    dataset = prepared.dataset
    return ModelCard(
        config=config.model_dump(mode="json"),
        task=dataset.task,
        sizes=sizes,
        activation=config.model.activation,
        feature_names=dataset.feature_names,
        target_name=dataset.target_name,
        classes=dataset.classes,
        feature_scaling=prepared.scaler.to_dict(),
        target_scaling=prepared.target_scaler.to_dict() if prepared.target_scaler else None,
        data_fingerprint=data_fingerprint(prepared),
    )


def measure(card: ModelCard, net: nn.Module, x: np.ndarray, y: np.ndarray) -> dict:
    """The task's full metric set for raw features `x` and original-unit targets `y`."""
    outputs = card.predict_raw(net, x)
    if not np.all(np.isfinite(outputs)):  # a diverged model: no metric means anything
        names = [*CLASSIFICATION_METRICS, "confusion_matrix"]
        return dict.fromkeys(names if card.task == "classification" else REGRESSION_METRICS)
    if card.task == "classification":
        return classification_metrics(y, outputs.argmax(axis=1), len(card.classes or []))
    return regression_metrics(y, outputs)


def measure_splits(net: nn.Module, card: ModelCard, prepared: PreparedData) -> dict[str, dict]:
    return {
        split: measure(card, net, *prepared.raw[split]) for split in SPLITS if split in prepared.raw
    }
