"""The losses the engine trains on, and each epoch's loss and headline metric per model."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def per_sample_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """(K, B, C) outputs and (K, B) targets -> (K, B) loss of each sample under each model."""
    k, b, c = outputs.shape
    if task == "classification":
        losses = F.cross_entropy(
            outputs.reshape(k * b, c), targets.reshape(k * b), reduction="none"
        )
        return losses.view(k, b)
    return (outputs.squeeze(-1) - targets) ** 2


def stacked_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """The sum over models of each one's mean loss, in fewest operations: its gradient with
    respect to model k's parameters is model k's own, as all models share the batch size."""
    k, b, c = outputs.shape
    if task == "classification":
        summed = F.cross_entropy(outputs.reshape(k * b, c), targets.reshape(k * b), reduction="sum")
    else:
        summed = ((outputs.squeeze(-1) - targets) ** 2).sum()
    return summed / b


def single_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """(B, C) outputs and (B,) targets -> scalar mean loss, as a bare loop computes it."""
    if task == "classification":
        return F.cross_entropy(outputs, targets)
    return F.mse_loss(outputs.squeeze(-1), targets)


class Scorer:
    """Whole-split loss and headline metric of every model, without gradients."""

    def __init__(self, predict: Callable, task: str, target_scale: float):
        self.predict = predict
        self.task = task
        self.target_scale = target_scale
        from nncli.metrics import headline_metric

        self.metric = headline_metric(task)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        outputs = self.predict(x)  # (K, N, C)
        return self.score(outputs, y.expand(outputs.shape[0], *y.shape))

    @torch.no_grad()
    def score(
        self, outputs: torch.Tensor, targets: torch.Tensor, losses: torch.Tensor | None = None
    ) -> tuple[list, list]:
        """(K, N, C) outputs and (K, N) targets (and (K, N) losses) -> per-model loss, metric."""
        if losses is None:
            losses = per_sample_loss(outputs, targets, self.task)
        loss = losses.mean(dim=1)
        if self.task == "classification":
            metric = (outputs.argmax(dim=-1) == targets).double().mean(dim=1)
        else:
            metric = loss.double() * self.target_scale**2  # MSE in the target's own units
        return loss.tolist(), metric.tolist()
