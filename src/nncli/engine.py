"""The training engine: mini-batch SGD for K stacked models at once (K = 1 for `train`).

With K = 1 the engine trains a plain `nn.Sequential` whose parameters are views of the stacked
ones, so a single run costs what a bare PyTorch loop costs, and ends bit for bit where that loop
ends. With K > 1 every step is one batched forward and backward pass for all models. The two
paths compute the same arithmetic, but batched kernels may round differently (about 1e-7
relative per operation on the CPU), so a stacked model matches its solo run to float32 rounding,
not bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from nncli.model import StackedMLP


@dataclass(frozen=True)
class FitSettings:
    lr: float
    batch_size: int
    epochs: int
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    patience: int | None = None  # early stopping on val loss when set
    min_delta: float = 0.0


@dataclass(frozen=True)
class EpochReport:
    """What the progress callback sees after each epoch; lists hold one value per model."""

    epoch: int
    epochs: int
    metric: str  # name of the per-epoch metric: "accuracy" or "mse"
    train_loss: list[float]
    train_metric: list[float]
    val_loss: list[float] | None
    val_metric: list[float] | None
    active: list[bool]  # still training (not stopped early, not diverged)


@dataclass
class FitResult:
    history: list[list[dict[str, float]]]  # per model, one row per epoch it ran
    best_epoch: list[int]  # lowest val loss (train loss when there is no val split)
    kept_epoch: list[int]  # the epoch whose weights the model ends with
    epochs_run: list[int]
    diverged: list[tuple[int, int] | None] = field(default_factory=list)  # (epoch, step)
    initial_train_loss: list[float] = field(default_factory=list)  # before the first step
    # With probe_gradients: per model, each layer's weight-gradient norm (input layer first),
    # averaged over the steps of the first epoch.
    grad_norms: list[list[float]] | None = None
    # Set when `should_stop` ended training early: what `fit(resume=...)` continues from.
    stopped: TrainingState | None = None


@dataclass
class TrainingState:
    """Everything `fit` needs to continue exactly, bit for bit, where it left off."""

    epoch: int  # the epoch to run (1-based)
    step: int  # steps of it already done
    order: torch.Tensor | None  # (K, N) that epoch's sample order, once drawn
    outputs: torch.Tensor | None  # (K, step * B, C) outputs of its done steps
    shuffler_states: list[torch.Tensor]  # each model's batch-order generator
    optimizer: dict  # optimizer.state_dict()
    tracker: dict  # best loss and epoch, patience used, active flags
    best_params: list[torch.Tensor]  # the stacked parameters at each model's best epoch
    grad_sums: torch.Tensor | None  # (L, K) first-epoch gradient-norm sums
    result: FitResult  # history and counters so far


def per_sample_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """(K, B, C) outputs and (K, B) targets -> (K, B) loss of each sample under each model."""
    k, b, c = outputs.shape
    if task == "classification":
        losses = F.cross_entropy(
            outputs.reshape(k * b, c), targets.reshape(k * b), reduction="none"
        )
        return losses.view(k, b)
    return (outputs.squeeze(-1) - targets) ** 2


def per_model_loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """(K, B, C) outputs and (K, B) targets -> (K,) mean loss of each model."""
    return per_sample_loss(outputs, targets, task).mean(dim=1)


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


def fit(
    model: StackedMLP,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    task: str,
    settings: FitSettings,
    seeds: list[int],
    target_scale: float = 1.0,
    on_epoch: Callable[[EpochReport], None] | None = None,
    probe_gradients: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainingState], None] | None = None,
    resume: TrainingState | None = None,
) -> FitResult:
    """Train every model in `model` in place; model k shuffles its batches from `seeds[k]`.

    `target_scale` converts regression losses on scaled targets back to the original units.
    `probe_gradients` records each layer's gradient norm during the first epoch.
    `should_stop` is asked before every step; when it says yes, training stops there and the
    result's `stopped` holds the state to `resume` from. `on_checkpoint` gets the state after
    every epoch. `resume` continues from such a state (with `model` holding its parameters).
    """
    k = model.n_models
    x_train, y_train = train  # (N, F), (N,)
    n = len(x_train)
    batch = min(settings.batch_size, n)
    steps_per_epoch = -(-n // batch)
    shufflers = [torch.Generator().manual_seed(seed) for seed in seeds]

    if k == 1:
        net = model.member(0, share=True)
        params = list(net.parameters())
        weights = [layer.weight for layer in net[::2]]  # (out, in) each

        def predict(x: torch.Tensor) -> torch.Tensor:
            return net(x).unsqueeze(0)

    else:
        params = list(model.parameters())
        weights = list(model.weights)  # (K, out, in) each

        def predict(x: torch.Tensor) -> torch.Tensor:
            return model(x.expand(k, *x.shape))

    optimizer = torch.optim.SGD(
        params,
        lr=settings.lr,
        momentum=settings.momentum,
        weight_decay=settings.weight_decay,
        nesterov=settings.nesterov,
    )
    measure = _Measure(predict, task, target_scale)
    tracker = _Tracker(model, settings, has_val=val is not None)
    if resume is None:
        result = FitResult([[] for _ in range(k)], [0] * k, [0] * k, [0] * k, [None] * k)
        result.initial_train_loss = measure(x_train, y_train)[0]
        grad_sums = torch.zeros(len(weights), k) if probe_gradients else None  # (L, K)
        first_epoch = 1
    else:
        optimizer.load_state_dict(resume.optimizer)
        for shuffler, state in zip(shufflers, resume.shuffler_states, strict=True):
            shuffler.set_state(state)
        tracker.load(resume.tracker, resume.best_params)
        result, grad_sums, first_epoch = resume.result, resume.grad_sums, resume.epoch
        result.stopped = None

    def snapshot(epoch: int, step: int, order, step_outputs) -> TrainingState:
        return TrainingState(
            epoch=epoch,
            step=step,
            order=order,
            outputs=torch.cat(step_outputs, dim=-2).view(k, -1, step_outputs[0].shape[-1])
            if step_outputs
            else None,
            shuffler_states=[g.get_state() for g in shufflers],
            optimizer=optimizer.state_dict(),
            tracker=tracker.state(),
            best_params=tracker.best_params,
            grad_sums=grad_sums,
            result=result,
        )

    for epoch in range(first_epoch, settings.epochs + 1):
        first_step = 0
        if resume is not None and resume.order is not None:  # resuming inside this epoch
            order, first_step = resume.order, resume.step
        else:
            order = torch.stack([torch.randperm(n, generator=g) for g in shufflers])  # (K, N)
        if k == 1:
            x_epoch, y_epoch = x_train[order[0]], y_train[order[0]]  # (N, F), (N,)
        else:
            x_epoch, y_epoch = x_train[order], y_train[order]  # (K, N, F), (K, N)
        # Each step's outputs, kept (a list append is the cheapest record) to report the epoch's
        # training loss and metric, and find a diverging step, without another pass over the data.
        step_outputs: list[torch.Tensor] = []
        if first_step and resume is not None and resume.outputs is not None:
            step_outputs.append(resume.outputs if k > 1 else resume.outputs[0])
        resume = None
        for step in range(first_step, steps_per_epoch):
            if should_stop is not None and should_stop():
                result.stopped = snapshot(epoch, step, order, step_outputs)
                return result
            lo = step * batch
            if k == 1:
                outputs = net(x_epoch[lo : lo + batch])  # (B, C)
                loss = single_loss(outputs, y_epoch[lo : lo + batch], task)
            else:
                outputs = model(x_epoch[:, lo : lo + batch])  # (K, B, C)
                loss = stacked_loss(outputs, y_epoch[:, lo : lo + batch], task)
            step_outputs.append(outputs.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_sums is not None and epoch == 1:
                grad_sums += _weight_grad_norms(weights, k)
            optimizer.step()

        epoch_outputs = torch.cat(step_outputs, dim=-2).view(k, n, -1)  # (K, N, C)
        sample_losses = per_sample_loss(epoch_outputs, y_epoch.view(k, n), task)  # (K, N)
        train_loss, train_metric = measure.score(epoch_outputs, y_epoch.view(k, n), sample_losses)
        val_loss, val_metric = measure(*val) if val is not None else (None, None)
        active_before = list(tracker.active)
        tracker.record_divergence(epoch, sample_losses, batch, train_loss, result)
        tracker.update(epoch, val_loss if val_loss is not None else train_loss)
        for i in range(k):
            if not active_before[i]:
                continue
            row = {"epoch": epoch, "train_loss": train_loss[i], f"train_{measure.metric}":
                   train_metric[i]}  # fmt: skip
            if val_loss is not None:
                row |= {"val_loss": val_loss[i], f"val_{measure.metric}": val_metric[i]}
            result.history[i].append(row)
            result.epochs_run[i] = epoch
        if on_epoch is not None:
            on_epoch(EpochReport(epoch, settings.epochs, measure.metric, train_loss, train_metric,
                                 val_loss, val_metric, list(tracker.active)))  # fmt: skip
        if not any(tracker.active):
            break
        if on_checkpoint is not None:
            on_checkpoint(snapshot(epoch + 1, 0, None, []))

    tracker.finish(result)
    if grad_sums is not None:
        result.grad_norms = (grad_sums / steps_per_epoch).T.tolist()  # (K, L)
    return result


def _weight_grad_norms(weights: list[torch.Tensor], k: int) -> torch.Tensor:
    """(L, K): the Frobenius norm of each layer's weight gradient for each model."""
    return torch.stack([g.grad.reshape(k, -1).norm(dim=1) for g in weights]).cpu()


class _Measure:
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


class _Tracker:
    """Best epoch, early stopping and divergence of each model, and the best weights."""

    def __init__(self, model: StackedMLP, settings: FitSettings, *, has_val: bool):
        k = model.n_models
        self.model = model
        self.settings = settings
        self.early_stopping = settings.patience is not None and has_val
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
        result: FitResult,
    ) -> None:
        """Stop models whose loss became non-finite; name the step where it first did."""
        finite = torch.isfinite(sample_losses)  # (K, N), samples in the order they were trained
        if bool(finite.all()) and all(math.isfinite(v) for v in train_loss):
            return
        for i in range(len(self.active)):
            if not self.active[i]:
                continue
            if not bool(finite[i].all()):
                first_sample = int((~finite[i]).int().argmax())
                result.diverged[i] = (epoch, first_sample // batch + 1)
            elif not math.isfinite(train_loss[i]):
                result.diverged[i] = (epoch, -(-sample_losses.shape[1] // batch))
            if result.diverged[i] is not None:
                self.active[i] = False

    def update(self, epoch: int, monitored: list[float]) -> None:
        improved = []
        for i, loss in enumerate(monitored):
            if not self.active[i]:
                continue
            if loss < self.best_loss[i] - self.settings.min_delta:
                self.best_loss[i], self.best_epoch[i], self.waited[i] = loss, epoch, 0
                improved.append(i)
            else:
                self.waited[i] += 1
                if self.early_stopping and self.waited[i] >= self.settings.patience:
                    self.active[i] = False
        if self.early_stopping and improved:
            index = torch.tensor(improved)
            with torch.no_grad():
                for best, param in zip(self.best_params, self.model.parameters(), strict=True):
                    best[index] = param.detach()[index]

    def finish(self, result: FitResult) -> None:
        result.best_epoch = list(self.best_epoch)
        if self.early_stopping:
            with torch.no_grad():
                for best, param in zip(self.best_params, self.model.parameters(), strict=True):
                    param.copy_(best)
            result.kept_epoch = list(self.best_epoch)
        else:
            result.kept_epoch = list(result.epochs_run)
