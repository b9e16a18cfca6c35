"""The losses the engine trains on, and each epoch's loss and headline metric per model.

`LOSSES` holds each task's torch side, keyed by the names of `tasks.TASKS`: cross-entropy on
class indices for classification (optionally class-weighted), squared error for regression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nncli.metrics import headline_metric
from nncli.tasks import CLASSIFICATION, REGRESSION

Weight = torch.Tensor | None  # (C,) class weights, as `F.cross_entropy(weight=...)` takes them
Denominator = float | torch.Tensor | None


@dataclass(frozen=True)
class TaskLoss:
    """A task's loss, as every part of training takes it. Outputs are (K, B, C) for K stacked
    models (C = 1 for regression), targets (K, B): class indices or values."""

    # -> (K, B) each sample's loss under each model (times its class's weight)
    per_sample: Callable[[torch.Tensor, torch.Tensor, Weight], torch.Tensor]
    # -> the sum over models of each one's mean loss (`stacked_loss`)
    stacked: Callable[[torch.Tensor, torch.Tensor, Weight, Denominator], torch.Tensor]
    # -> its gradient with respect to the outputs, from the targets a step takes (`step_targets`)
    gradient: Callable[[torch.Tensor, torch.Tensor, Weight, Denominator], torch.Tensor]
    # (B, C) outputs and (B,) targets -> one model's mean loss, as a bare loop computes it
    single: Callable[[torch.Tensor, torch.Tensor, Weight], torch.Tensor]
    # (K, N) sample losses, (K, N) targets -> (K,) each model's mean loss
    mean: Callable[[torch.Tensor, torch.Tensor, Weight], torch.Tensor]
    # outputs, targets, (K,) mean losses, target scale -> (K,) the headline metric, per epoch
    epoch_metric: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]
    # The epoch's targets as the explicit step takes them, given the outputs and their dtype
    step_targets: Callable[[torch.Tensor, int, torch.dtype], torch.Tensor]
    # A whole batch's loss denominator from step targets, and from targets as they are
    step_denominator: Callable[[torch.Tensor, Weight], float | torch.Tensor]
    denominator: Callable[[torch.Tensor, Weight], float | torch.Tensor]
    # (N,) training targets -> the loss of the best prediction that ignores the inputs
    baseline: Callable[[torch.Tensor, Weight], float]


def _cross_entropy(outputs: torch.Tensor, targets: torch.Tensor, weight: Weight) -> torch.Tensor:
    k, b, c = outputs.shape
    losses = F.cross_entropy(
        outputs.reshape(k * b, c), targets.reshape(k * b), weight=weight, reduction="none"
    )
    return losses.view(k, b)


def _stacked_cross_entropy(
    outputs: torch.Tensor, targets: torch.Tensor, weight: Weight, denominator: Denominator
) -> torch.Tensor:
    k, b, c = outputs.shape
    if weight is not None:
        losses = _cross_entropy(outputs, targets, weight)  # (K, B)
        if denominator is None:
            denominator = weight[targets].sum(dim=1)
        return (losses.sum(dim=1) / denominator).sum()
    summed = F.cross_entropy(outputs.reshape(k * b, c), targets.reshape(k * b), reduction="sum")
    return summed / (b if denominator is None else denominator)


def _cross_entropy_gradient(
    outputs: torch.Tensor, targets: torch.Tensor, weight: Weight, denominator: Denominator
) -> torch.Tensor:
    """(softmax - one-hot) / B; with class weights each sample's term is times its class weight
    over the batch's weight sum."""
    d = softmax(outputs).sub_(targets)
    if weight is None:
        return d.mul_(1.0 / (outputs.shape[-2] if denominator is None else denominator))
    sample_weight = targets @ weight  # (K, B): each sample's class weight
    if denominator is None:
        denominator = sample_weight.sum(-1)
    return d.mul_((sample_weight / denominator[..., None]).unsqueeze(-1))


def _weighted_mean(losses: torch.Tensor, targets: torch.Tensor, weight: Weight) -> torch.Tensor:
    if weight is None:
        return losses.mean(dim=1)
    return losses.sum(dim=1) / weight[targets].sum(dim=1)


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor, loss, scale: float) -> torch.Tensor:
    return (outputs.argmax(dim=-1) == targets).double().mean(dim=1)


def _prior_cross_entropy(y: torch.Tensor, weight: Weight) -> float:
    """The cross-entropy of the training class frequencies (tilted by class weights, which the
    weighted loss rewards)."""
    counts = torch.bincount(y).double()
    if weight is not None:
        counts = counts * weight[: len(counts)].double()
    frequencies = counts / counts.sum()
    present = frequencies[frequencies > 0]
    return float(-(present * present.log()).sum())


def _squared_error(outputs: torch.Tensor, targets: torch.Tensor, weight: Weight) -> torch.Tensor:
    return (outputs.squeeze(-1) - targets) ** 2


def _stacked_squared_error(
    outputs: torch.Tensor, targets: torch.Tensor, weight: Weight, denominator: Denominator
) -> torch.Tensor:
    summed = ((outputs.squeeze(-1) - targets) ** 2).sum()
    return summed / (outputs.shape[1] if denominator is None else denominator)


def _squared_error_gradient(
    outputs: torch.Tensor, targets: torch.Tensor, weight: Weight, denominator: Denominator
) -> torch.Tensor:
    """2 (output - target) / B."""
    b = outputs.shape[-2] if denominator is None else denominator
    return (outputs - targets.unsqueeze(-1)).mul_(2.0 / b)


def _original_units_mse(outputs, targets, loss: torch.Tensor, scale: float) -> torch.Tensor:
    return loss.double() * scale**2  # MSE in the target's own units


LOSSES: dict[str, TaskLoss] = {
    CLASSIFICATION: TaskLoss(
        per_sample=_cross_entropy,
        stacked=_stacked_cross_entropy,
        gradient=_cross_entropy_gradient,
        single=lambda outputs, targets, weight: F.cross_entropy(outputs, targets, weight=weight),
        mean=_weighted_mean,
        epoch_metric=_accuracy,
        step_targets=lambda y, c, dtype: F.one_hot(y, c).to(dtype),  # one-hot, once an epoch
        step_denominator=lambda y, w: y.shape[-2] if w is None else (y @ w).sum(-1),
        denominator=lambda y, w: y.shape[-1] if w is None else w[y].sum(-1),
        baseline=_prior_cross_entropy,
    ),
    REGRESSION: TaskLoss(
        per_sample=_squared_error,
        stacked=_stacked_squared_error,
        gradient=_squared_error_gradient,
        single=lambda outputs, targets, weight: F.mse_loss(outputs.squeeze(-1), targets),
        mean=lambda losses, targets, weight: losses.mean(dim=1),
        epoch_metric=_original_units_mse,
        step_targets=lambda y, c, dtype: y,
        step_denominator=lambda y, w: y.shape[-1],
        denominator=lambda y, w: y.shape[-1],
        baseline=lambda y, weight: float(((y - y.mean()) ** 2).mean()),  # predict the mean
    ),
}


def per_sample_loss(
    outputs: torch.Tensor, targets: torch.Tensor, task: str, weight: Weight = None
) -> torch.Tensor:
    """(K, B, C) outputs and (K, B) targets -> (K, B) loss of each sample under each model;
    with class weights (C,), each sample's loss is multiplied by its class's weight."""
    return LOSSES[task].per_sample(outputs, targets, weight)


def stacked_loss(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    task: str,
    weight: Weight = None,
    denominator: Denominator = None,
) -> torch.Tensor:
    """The sum over models of each one's mean loss, in fewest operations: its gradient with
    respect to model k's parameters is model k's own, as all models share the batch size.

    With class weights each model's mean is weighted, as `F.cross_entropy(weight=...)` takes it
    (divided by the weights of that model's batch), so the models' denominators differ. A
    `denominator` (the rows, or (K,) weight sums, of the whole batch) replaces this batch's own:
    a rank's shard then contributes its part of the whole batch's mean."""
    return LOSSES[task].stacked(outputs, targets, weight, denominator)


def softmax(outputs: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis. With few classes it runs over the transposed view for a
    stack (K, B, C) and for one model's large batch: torch's CPU kernel along a short last axis
    is slow, up to 10x at 4096 rows of 4 classes, while one model's small batch is faster as it
    is (measured). A stack always takes the transposed kernel, so each model's result does not
    depend on how many models share the stack: a sweep split across processes trains the same
    bits (each column's softmax is computed alone)."""
    c = outputs.shape[-1]
    if c < 32 and (outputs.dim() == 3 or outputs.shape[-2] >= 128):
        return torch.softmax(outputs.transpose(-1, -2), dim=-2).transpose(-1, -2)
    return torch.softmax(outputs, dim=-1)


def output_gradient(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    task: str,
    weight: Weight = None,
    denominator: Denominator = None,
) -> torch.Tensor:
    """The gradient of `stacked_loss` (of `single_loss` for one model's (B, C) outputs) with
    respect to the outputs, written out. Classification takes one-hot `targets` (K, B, C) and
    gives (softmax - one-hot) / B, each sample's term times its class weight over the batch's
    weight sum; regression gives 2 (output - target) / B. `denominator`: as `stacked_loss`'s."""
    return LOSSES[task].gradient(outputs, targets, weight, denominator)


def single_loss(
    outputs: torch.Tensor, targets: torch.Tensor, task: str, weight: Weight = None
) -> torch.Tensor:
    """(B, C) outputs and (B,) targets -> scalar mean loss, as a bare loop computes it."""
    return LOSSES[task].single(outputs, targets, weight)


def input_blind_loss(x: torch.Tensor, y: torch.Tensor, task: str, weight: Weight = None) -> float:
    """The loss of the best prediction that ignores the inputs: the training class frequencies
    (tilted by class weights, which the weighted loss rewards), or the mean target."""
    return LOSSES[task].baseline(y, weight)


class Scorer:
    """Whole-split loss and headline metric of every model, without gradients."""

    def __init__(self, predict: Callable, task: str, target_scale: float, weight: Weight = None):
        self.predict = predict
        self.loss = LOSSES[task]
        self.target_scale = target_scale
        self.weight = weight  # (C,) class weights: the loss is their weighted mean
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
            losses = self.loss.per_sample(outputs, targets, self.weight)
        loss = self.loss.mean(losses, targets, self.weight)
        metric = self.loss.epoch_metric(outputs, targets, loss, self.target_scale)
        return loss.tolist(), metric.tolist()
