"""The losses the engine trains on, and each epoch's loss and headline metric per model."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def per_sample_loss(
    outputs: torch.Tensor, targets: torch.Tensor, task: str, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """(K, B, C) outputs and (K, B) targets -> (K, B) loss of each sample under each model;
    with class weights (C,), each sample's loss is multiplied by its class's weight."""
    k, b, c = outputs.shape
    if task == "classification":
        losses = F.cross_entropy(
            outputs.reshape(k * b, c), targets.reshape(k * b), weight=weight, reduction="none"
        )
        return losses.view(k, b)
    return (outputs.squeeze(-1) - targets) ** 2


def stacked_loss(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    task: str,
    weight: torch.Tensor | None = None,
    denominator: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """The sum over models of each one's mean loss, in fewest operations: its gradient with
    respect to model k's parameters is model k's own, as all models share the batch size.

    With class weights each model's mean is weighted, as `F.cross_entropy(weight=...)` takes it
    (divided by the weights of that model's batch), so the models' denominators differ. A
    `denominator` (the rows, or (K,) weight sums, of the whole batch) replaces this batch's own:
    a rank's shard then contributes its part of the whole batch's mean."""
    k, b, c = outputs.shape
    if task == "classification" and weight is not None:
        losses = per_sample_loss(outputs, targets, task, weight)  # (K, B)
        if denominator is None:
            denominator = weight[targets].sum(dim=1)
        return (losses.sum(dim=1) / denominator).sum()
    if task == "classification":
        summed = F.cross_entropy(outputs.reshape(k * b, c), targets.reshape(k * b), reduction="sum")
    else:
        summed = ((outputs.squeeze(-1) - targets) ** 2).sum()
    return summed / (b if denominator is None else denominator)


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
    weight: torch.Tensor | None = None,
    denominator: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """The gradient of `stacked_loss` (of `single_loss` for one model's (B, C) outputs) with
    respect to the outputs, written out. Classification takes one-hot `targets` (K, B, C) and
    gives (softmax - one-hot) / B, each sample's term times its class weight over the batch's
    weight sum; regression gives 2 (output - target) / B. `denominator`: as `stacked_loss`'s."""
    b = outputs.shape[-2] if denominator is None else denominator
    if task != "classification":
        return (outputs - targets.unsqueeze(-1)).mul_(2.0 / b)
    d = softmax(outputs).sub_(targets)
    if weight is None:
        return d.mul_(1.0 / b)
    sample_weight = targets @ weight  # (K, B): each sample's class weight
    if denominator is None:
        denominator = sample_weight.sum(-1)
    return d.mul_((sample_weight / denominator[..., None]).unsqueeze(-1))


def single_loss(
    outputs: torch.Tensor, targets: torch.Tensor, task: str, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, C) outputs and (B,) targets -> scalar mean loss, as a bare loop computes it."""
    if task == "classification":
        return F.cross_entropy(outputs, targets, weight=weight)
    return F.mse_loss(outputs.squeeze(-1), targets)


class Scorer:
    """Whole-split loss and headline metric of every model, without gradients."""

    def __init__(
        self,
        predict: Callable,
        task: str,
        target_scale: float,
        weight: torch.Tensor | None = None,
    ):
        self.predict = predict
        self.task = task
        self.target_scale = target_scale
        self.weight = weight  # (C,) class weights: the loss is their weighted mean
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
            losses = per_sample_loss(outputs, targets, self.task, self.weight)
        if self.weight is not None and self.task == "classification":
            loss = losses.sum(dim=1) / self.weight[targets].sum(dim=1)
        else:
            loss = losses.mean(dim=1)
        if self.task == "classification":
            metric = (outputs.argmax(dim=-1) == targets).double().mean(dim=1)
        else:
            metric = loss.double() * self.target_scale**2  # MSE in the target's own units
        return loss.tolist(), metric.tolist()
