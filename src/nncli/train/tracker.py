"""Each stacked model's best epoch, early stopping and divergence, and its best weights."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from nncli.model.mlp import StackedMLP

if TYPE_CHECKING:
    from nncli.train.state import ModelRecord, ModelSettings


class Tracker:
    """Best epoch, early stopping and divergence of each model, and the best weights."""

    def __init__(self, model: StackedMLP, models: list[ModelSettings], *, has_val: bool):
        k = model.n_models
        self.model = model
        self.models = models
        self.early_stopping = [m.patience is not None and has_val for m in models]
        self.active = [True] * k
        self.best_loss = [float("inf")] * k
        self.best_epoch = [0] * k
        self.waited = [0] * k
        self.best_params = [p.detach().clone() for p in model.parameters()]

    def state(self) -> dict:
        return {
            "active": list(self.active),
            "best_loss": list(self.best_loss),
            "best_epoch": list(self.best_epoch),
            "waited": list(self.waited),
        }

    def load(self, state: dict, best_params: list[torch.Tensor]) -> None:
        self.active = list(state["active"])
        self.best_loss = [float(v) for v in state["best_loss"]]
        self.best_epoch = list(state["best_epoch"])
        self.waited = list(state["waited"])
        with torch.no_grad():
            for mine, saved in zip(self.best_params, best_params, strict=True):
                mine.copy_(saved)

    def record_divergence(
        self,
        epoch: int,
        sample_losses: torch.Tensor,
        batch: int,
        train_loss: list[float],
        records: list[ModelRecord],
    ) -> None:
        """Stop models whose loss became non-finite; name the step where it first did."""
        finite = torch.isfinite(sample_losses)  # (K, N), samples in the order they were trained
        if bool(finite.all()) and all(math.isfinite(v) for v in train_loss):
            return
        for i, record in enumerate(records):
            if not self.active[i]:
                continue
            if not bool(finite[i].all()):
                first_sample = int((~finite[i]).int().argmax())
                record.diverged = (epoch, first_sample // batch + 1)
            elif not math.isfinite(train_loss[i]):
                record.diverged = (epoch, -(-sample_losses.shape[1] // batch))
            if record.diverged is not None:
                self.active[i] = False

    def stop(self, models: list[int]) -> None:
        """Stop these models from the next epoch on (a search pruned them)."""
        for i in models:
            self.active[i] = False

    def update(self, epoch: int, monitored: list[float]) -> None:
        improved = []
        for i, loss in enumerate(monitored):
            if not self.active[i]:
                continue
            if loss < self.best_loss[i] - self.models[i].min_delta:
                self.best_loss[i], self.best_epoch[i], self.waited[i] = loss, epoch, 0
                if self.early_stopping[i]:
                    improved.append(i)
            else:
                self.waited[i] += 1
                if self.early_stopping[i] and self.waited[i] >= self.models[i].patience:
                    self.active[i] = False
        if improved:
            index = torch.tensor(improved)
            with torch.no_grad():
                for best, param in zip(self.best_params, self.model.parameters(), strict=True):
                    best[index] = param.detach()[index]

    def finish(self, records: list[ModelRecord]) -> None:
        """Restore each early-stopping model's best weights; say which epoch each one kept.

        A model that diverged keeps its non-finite weights, early stopping or not: its best
        epoch's may be finite but huge, and a diverged model is reported as having no metrics.
        """
        for i, record in enumerate(records):
            if record.diverged is not None:
                self.early_stopping[i] = False
        restore = [i for i, stopping in enumerate(self.early_stopping) if stopping]
        if restore:
            index = torch.tensor(restore)
            with torch.no_grad():
                for best, param in zip(self.best_params, self.model.parameters(), strict=True):
                    param[index] = best[index]
        for i, record in enumerate(records):
            record.best_epoch = self.best_epoch[i]
            record.kept_epoch = self.best_epoch[i] if self.early_stopping[i] else record.epochs_run
