"""Every activation (and several seeds) trained side by side, on one split, in one pass."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from nncli.checkpoint import ModelCard
from nncli.config import Config
from nncli.diagnostics import dead_fraction, saturated_fraction
from nncli.engine import EpochReport, FitResult, TrainingState, fit, single_loss
from nncli.model import StackedMLP
from nncli.preprocessing import SPLITS
from nncli.training import (
    PreparedData,
    fit_settings,
    load_parameters,
    measure_splits,
    model_card,
    resolve_device,
    stacked_sizes,
    target_scale,
)

# A model "learned" when its training loss is at least this fraction below the loss of the best
# input-blind guess (the class frequencies, or the mean target): beating a coin is not enough.
LEARNED_IMPROVEMENT = 0.10


@dataclass
class ModelOutcome:
    """One (activation, seed) model after training, with the kept weights."""

    activation: str
    seed: int
    history: list[dict[str, float]]
    best_epoch: int
    kept_epoch: int
    epochs_run: int
    diverged: tuple[int, int] | None
    metrics: dict[str, dict]  # split -> task metrics plus "loss"
    grad_norms: list[float]  # per layer, input layer first, averaged over the first epoch
    dead_fraction: float | None
    saturated_fraction: float | None
    initial_train_loss: float
    baseline_loss: float  # training loss of the best prediction that ignores the inputs
    net: torch.nn.Sequential  # the kept weights, as `nncli train` would save them
    card: ModelCard

    @property
    def grad_ratio(self) -> float | None:
        """First hidden layer's gradient norm over the output layer's: < 1 means vanishing."""
        first, last = self.grad_norms[0], self.grad_norms[-1]
        if len(self.grad_norms) < 2 or not last:
            return None
        return first / last

    @property
    def learned(self) -> bool:
        final = self.metrics["train"]["loss"]
        return final is not None and final <= (1 - LEARNED_IMPROVEMENT) * self.baseline_loss


class StoppedEarly(Exception):
    """A stop request ended a comparison; `state` (None when sequential) resumes it."""

    def __init__(self, state: TrainingState | None, params: list[torch.Tensor]):
        super().__init__("stopped early")
        self.state = state
        self.params = params


def seeds_from(config: Config, n_seeds: int) -> list[int]:
    """Seed i of a comparison is `seed + i`: the model `nncli train --set seed=...` builds."""
    return [config.seed + i for i in range(n_seeds)]


def compare_activations(
    config: Config,
    prepared: PreparedData,
    *,
    activations: list[str],
    seeds: list[int],
    sequential: bool = False,
    on_epoch: Callable[[int | None, EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainingState, list[torch.Tensor]], None] | None = None,
    resume: tuple[TrainingState, list[torch.Tensor]] | None = None,
) -> list[ModelOutcome]:
    """Train one model per (activation, seed), activation-major; all at once unless sequential.

    `on_epoch` gets the model's index when models train one at a time, else None. The stacked
    pass can stop on `should_stop` (raising `StoppedEarly` with its state), checkpoint each epoch
    and `resume`; a sequential comparison stops by starting over.
    """
    device = resolve_device(config.training.device)
    train = prepared.tensors("train", device)
    val = prepared.tensors("val", device) if "val" in prepared.raw else None
    sizes = stacked_sizes(config, prepared)
    pairs = [(activation, seed) for activation in activations for seed in seeds]
    common = {
        "task": prepared.task,
        "settings": fit_settings(config, len(train[0])),
        "target_scale": target_scale(prepared),
        "probe_gradients": True,
    }
    trained: list[tuple[torch.nn.Sequential, FitResult, int]] = []  # (net, result, index)
    if sequential:
        for index, (activation, seed) in enumerate(pairs):
            stacked = StackedMLP.from_seeds(sizes, [activation], [seed]).to(device)
            callback = (lambda r, i=index: on_epoch(i, r)) if on_epoch else None
            result = fit(stacked, train, val, seeds=[seed], on_epoch=callback,
                         should_stop=should_stop, **common)  # fmt: skip
            if result.stopped is not None:
                raise StoppedEarly(None, [])
            trained.append((stacked.member(0).cpu().eval(), result, 0))
    else:
        stacked = StackedMLP.from_seeds(sizes, [a for a, _ in pairs], [s for _, s in pairs])
        if resume is not None:
            load_parameters(stacked, resume[1])
        stacked = stacked.to(device)
        callback = (lambda r: on_epoch(None, r)) if on_epoch else None
        checkpoint = (
            (lambda state: on_checkpoint(state, list(stacked.parameters())))
            if on_checkpoint
            else None
        )
        result = fit(
            stacked, train, val, seeds=[s for _, s in pairs], on_epoch=callback,
            should_stop=should_stop, on_checkpoint=checkpoint,
            resume=resume[0] if resume is not None else None, **common,
        )  # fmt: skip
        if result.stopped is not None:
            raise StoppedEarly(result.stopped, list(stacked.parameters()))
        trained = [(stacked.member(k).cpu().eval(), result, k) for k in range(len(pairs))]

    tensors = {split: prepared.tensors(split, torch.device("cpu")) for split in prepared.raw}
    baseline = input_blind_loss(*tensors["train"], prepared.task)
    outcomes = []
    for (activation, seed), (net, result, k) in zip(pairs, trained, strict=True):
        card = model_card(_with_activation(config, activation), prepared, sizes)
        metrics = measure_splits(net, card, prepared)
        with torch.no_grad():
            for split, (x, y) in tensors.items():
                loss = float(single_loss(net(x), y, prepared.task))
                metrics[split]["loss"] = loss if math.isfinite(loss) else None
        x_train = tensors["train"][0]
        outcomes.append(
            ModelOutcome(
                activation=activation,
                seed=seed,
                history=result.history[k],
                best_epoch=result.best_epoch[k],
                kept_epoch=result.kept_epoch[k],
                epochs_run=result.epochs_run[k],
                diverged=result.diverged[k],
                metrics=metrics,
                grad_norms=(result.grad_norms or [[]])[k],
                dead_fraction=dead_fraction(net, activation, x_train),
                saturated_fraction=saturated_fraction(net, activation, x_train),
                initial_train_loss=result.initial_train_loss[k],
                baseline_loss=baseline,
                net=net,
                card=card,
            )
        )
    return outcomes


def input_blind_loss(x: torch.Tensor, y: torch.Tensor, task: str) -> float:
    """The loss of always predicting the training class frequencies (or the mean target)."""
    if task == "classification":
        frequencies = torch.bincount(y).double() / len(y)
        present = frequencies[frequencies > 0]
        return float(-(present * present.log()).sum())  # cross-entropy of the priors
    return float(((y - y.mean()) ** 2).mean())


def _with_activation(config: Config, activation: str) -> Config:
    return config.model_copy(
        update={"model": config.model.model_copy(update={"activation": activation})}
    )


def _mean_std(values: list[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return {"mean": None, "std": None}
    std = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
    return {"mean": float(np.mean(present)), "std": std}


def summarize(outcomes: list[ModelOutcome]) -> list[dict]:
    """One record per activation, aggregated over its seeds (mean and sample std)."""
    records = []
    for activation in dict.fromkeys(o.activation for o in outcomes):
        group = [o for o in outcomes if o.activation == activation]
        splits = [s for s in SPLITS if s in group[0].metrics]
        names = [m for m in group[0].metrics["train"] if m != "confusion_matrix"]
        layers = len(group[0].grad_norms)
        records.append(
            {
                "activation": activation,
                "seeds": [o.seed for o in group],
                "metrics": {
                    split: {m: _mean_std([o.metrics[split][m] for o in group]) for m in names}
                    for split in splits
                },
                "grad_norms": [
                    _mean_std([o.grad_norms[layer] for o in group])["mean"]
                    for layer in range(layers)
                ],
                "grad_ratio": _mean_std([o.grad_ratio for o in group]),
                "best_epoch": _mean_std([o.best_epoch for o in group]),
                "epochs_run": _mean_std([o.epochs_run for o in group]),
                "dead_fraction": _mean_std([o.dead_fraction for o in group]),
                "saturated_fraction": _mean_std([o.saturated_fraction for o in group]),
                "learned": sum(o.learned for o in group),
                "diverged": sum(o.diverged is not None for o in group),
                "frozen_layers": [
                    layer
                    for layer in range(layers)
                    if all(o.grad_norms[layer] == 0.0 for o in group)
                ],
            }
        )
    return records
