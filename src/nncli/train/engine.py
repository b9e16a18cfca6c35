"""The training engine: mini-batch SGD for K stacked models at once (K = 1 for `train`).

`fit` reads as its loop: each epoch draws every model's batch order, takes one step of every
model per batch, and ends by scoring, tracking, reporting and checkpointing. Where it starts
(afresh, or inside a stopped run's epoch) is `_start_or_resume`; how this process takes a batch
(whole, or its data-parallel shard) is batches.py; the step itself is a `steps.Step`.

With K = 1 the engine trains views of the stacked parameters with 2-D kernels; with K > 1 every
step is one batched forward and backward pass for all models. What the tests hold it to
(tests/test_engine.py): one model ends where a plain PyTorch loop with `torch.optim.SGD` ends,
to 1e-5 (the explicit step folds the update into its matrix product, which rounds apart by
about an ulp a step); each of K stacked models ends where it would alone, to float32 rounding
(batched kernels round differently); and a run stopped at any step and resumed ends with the
very bits (parameters, histories, gradient norms) of an uninterrupted one. Data-parallel ranks
end where one process ends, to float32 rounding (tests/test_distributed.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from nncli.model.mlp import StackedMLP
from nncli.train.backprop import ExplicitStep
from nncli.train.batches import ShardedBatches, WholeBatches
from nncli.train.losses import Scorer, per_sample_loss
from nncli.train.parallel import DataParallel, GradientSync
from nncli.train.sgd import StackedSGD
from nncli.train.state import (
    EpochReport,
    FitOptions,
    ModelRecord,
    TrainingState,
    TrainingStopped,
)
from nncli.train.steps import choose_step
from nncli.train.tracker import Tracker

Data = tuple[torch.Tensor, torch.Tensor]  # (N, F) features, (N,) targets


def fit(
    model: StackedMLP,
    train: Data,
    val: Data | None,
    options: FitOptions,
    *,
    resume: TrainingState | None = None,
    group: DataParallel | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainingState], None] | None = None,
    prune: Callable[[EpochReport], list[int]] | None = None,
) -> list[ModelRecord]:
    """Train every model in `model` in place; return one record per model.

    `resume` continues from the state a `TrainingStopped` carried (with `model` holding its
    parameters). `should_stop` is asked before every step; when it says yes, `TrainingStopped`
    is raised with the state to resume from. `on_epoch` gets each epoch's report, and
    `on_checkpoint` the state after every epoch. `prune`, asked after `on_epoch`, names the
    models to stop now (a search's pruner): they keep what they have trained, as a model
    stopped early does, and the others train on.

    With `group`, every rank of a torchrun launch calls `fit` with the same model, data and
    options, and trains its shard of every batch (`options.settings.batch_size` is the whole
    batch's): the gradients are summed over the ranks before each update, so every rank holds
    the same parameters, and each epoch's outputs are gathered, so every rank reports the same
    losses and makes the same early-stopping decisions. A stop request on any rank stops every
    rank at the same step.
    """
    x_train, y_train = train
    n, k = len(x_train), model.n_models
    batch = min(options.settings.batch_size, n)
    steps_per_epoch = -(-n // batch)
    sgd = [m.sgd for m in options.models]
    optimizer = StackedSGD(list(model.parameters()), sgd, options.update_rule)
    batches = _batches(model, optimizer, options, group, x_train, batch)
    scorer = Scorer(batches.predict, options.task, options.target_scale, options.class_weight)
    run, at = _start_or_resume(model, optimizer, options, val is not None, resume, x_train.device)

    for epoch in range(at.epoch, options.settings.epochs + 1):
        order = at.order if at.order is not None else run.draw_order(n)  # (K, N)
        x_epoch, y_epoch = _in_order(x_train, order), _in_order(y_train, order)  # (K,N,F), (K,N)
        outputs = _EpochOutputs(at.outputs, at.step, batches.gathered)
        probe = run.grad_sums if epoch == 1 else None
        for index, (x_batch, y_batch) in _epoch_batches(batches, x_epoch, y_epoch, batch, at.step):
            if batches.stopping(should_stop):
                state = run.state(epoch, index, order, outputs.upto(index))
                raise TrainingStopped(state, list(model.parameters()))
            outputs.add(batches(x_batch, y_batch, probe))
        at = _Position(epoch + 1)  # later epochs start at their first step

        epoch_outputs = torch.cat(outputs.upto(steps_per_epoch), dim=-2).view(k, n, -1)
        report = _end_epoch(run, scorer, options, epoch, epoch_outputs, y_epoch, val, batch)
        if on_epoch is not None:
            on_epoch(report)
        if prune is not None:
            run.tracker.stop(prune(report))
        if not any(run.tracker.active):
            break
        if on_checkpoint is not None:
            on_checkpoint(run.state(epoch + 1, 0, None, []))

    return run.finish(steps_per_epoch)


def _batches(
    model: StackedMLP,
    optimizer: StackedSGD,
    options: FitOptions,
    group: DataParallel | None,
    x_train: torch.Tensor,
    batch: int,
) -> WholeBatches | ShardedBatches:
    """The step `options` choose, as this process takes its batches: data-parallel with
    `group` (from the leader's parameters), else whole (replayed as a CUDA graph if asked)."""
    params = list(model.parameters())
    sync = None
    if group is not None:
        group.broadcast_parameters(params)  # the leader's, exactly
        sync = GradientSync(group, params)
    task, weight = options.task, options.class_weight
    step = choose_step(model, optimizer, task, weight, options.engine, options.precision, sync)
    if group is not None:
        return ShardedBatches(step, group, sync, len(x_train), batch, model.n_models)
    if options.cuda_graphs and x_train.is_cuda and isinstance(step, ExplicitStep):
        from nncli.train.graphs import GraphedStep

        k, features = model.n_models, x_train.shape[1]
        step = GraphedStep(step, torch.Size((batch, features) if k == 1 else (k, batch, features)))
    return WholeBatches(step)


@dataclass
class _Run:
    """What carries from step to step and epoch to epoch: what a resumable state saves."""

    shufflers: list[torch.Generator]  # each model's batch order
    optimizer: StackedSGD
    tracker: Tracker
    records: list[ModelRecord]
    grad_sums: torch.Tensor | None  # (L, K) first-epoch gradient-norm sums, when probing

    def draw_order(self, n: int) -> torch.Tensor:
        """Each model's sample order for the next epoch, (K, N)."""
        return torch.stack([torch.randperm(n, generator=g) for g in self.shufflers])

    def state(self, epoch: int, step: int, order, outputs: list[torch.Tensor]) -> TrainingState:
        """The state to resume from at `step` of `epoch`, `outputs` being its done steps'."""
        done = None
        if outputs:
            k = len(self.records)
            done = torch.cat(outputs, dim=-2).view(k, -1, outputs[0].shape[-1])
        return TrainingState(
            epoch=epoch,
            step=step,
            order=order,
            outputs=done,
            shuffler_states=[g.get_state() for g in self.shufflers],
            momentum_buffers=self.optimizer.state_dict()["momentum_buffers"],
            tracker=self.tracker.state(),
            best_params=self.tracker.best_params,
            grad_sums=self.grad_sums,
            records=self.records,
        )

    def finish(self, steps_per_epoch: int) -> list[ModelRecord]:
        """Each model's kept weights and, when probing, its mean first-epoch gradient norms."""
        self.tracker.finish(self.records)
        if self.grad_sums is not None:
            norms = (self.grad_sums / steps_per_epoch).T.tolist()
            for record, layer_norms in zip(self.records, norms, strict=True):
                record.grad_norms = layer_norms
        return self.records


@dataclass
class _Position:
    """Where an epoch's steps begin: at its first, or inside it when resuming."""

    epoch: int
    step: int = 0  # steps of it already done
    order: torch.Tensor | None = None  # (K, N) its sample order, once drawn
    outputs: torch.Tensor | None = None  # (K, step * B, C) outputs of its done steps


def _start_or_resume(
    model: StackedMLP,
    optimizer: StackedSGD,
    options: FitOptions,
    has_val: bool,
    resume: TrainingState | None,
    device: torch.device,
) -> tuple[_Run, _Position]:
    """A fresh run at epoch 1, or `resume`'s run where it stopped."""
    k = model.n_models
    shufflers = [torch.Generator().manual_seed(m.seed) for m in options.models]
    tracker = Tracker(model, options.models, has_val=has_val)
    if resume is None:
        grad_sums = None
        if options.probe_gradients:  # on the model's device: no transfer inside the step loop
            grad_sums = torch.zeros(len(model.weights), k, device=device)
        run = _Run(shufflers, optimizer, tracker, [ModelRecord() for _ in range(k)], grad_sums)
        return run, _Position(1)
    optimizer.load_state_dict({"momentum_buffers": resume.momentum_buffers})
    for shuffler, state in zip(shufflers, resume.shuffler_states, strict=True):
        shuffler.set_state(state)
    tracker.load(resume.tracker, resume.best_params)
    # Saved states live on the CPU; the epoch in progress continues on the model's device.
    order, outputs, grad_sums = (
        t.to(device) if t is not None else None
        for t in (resume.order, resume.outputs, resume.grad_sums)
    )
    run = _Run(shufflers, optimizer, tracker, resume.records, grad_sums)
    return run, _Position(resume.epoch, resume.step, order, outputs)


def _in_order(t: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """`t[order]`: (N, ...) rows in each model's order (K, N) -> (K, N, ...). The same copy as
    advanced indexing, which took 5-8x as long here (about 4 ms an epoch at 8,400 x 20)."""
    rows = order.reshape(-1).to(t.device)  # the order is drawn on the CPU
    return t.index_select(0, rows).view(*order.shape, *t.shape[1:])


def _epoch_batches(
    batches: WholeBatches | ShardedBatches,
    x_epoch: torch.Tensor,
    y_epoch: torch.Tensor,
    batch: int,
    start: int,
) -> Iterator[tuple[int, tuple[torch.Tensor, torch.Tensor]]]:
    """(index, (x, y)) of each of the epoch's batches from step `start` on, as the step takes
    them; made at once as views, which is cheaper than slicing at every step."""
    if x_epoch.shape[0] == 1:  # one model's batches are 2-D
        x_epoch, y_epoch = x_epoch[0], y_epoch[0]
    targets = batches.targets(y_epoch)  # (K, N) or, one-hot, (K, N, C)
    rows_axis = y_epoch.dim() - 1
    pairs = zip(x_epoch.split(batch, dim=-2), targets.split(batch, dim=rows_axis), strict=True)
    return itertools.islice(enumerate(pairs), start, None)


@dataclass
class _EpochOutputs:
    """Each step's outputs of an epoch, kept (a list append is the cheapest record) to report
    the epoch's training loss and metric, and find a diverging step, without another pass."""

    done: torch.Tensor | None  # the steps done before a resume, whole
    start: int  # the first step this process runs
    gather: Callable  # (local, start, stop) -> every rank's outputs of those steps
    local: list[torch.Tensor] = field(default_factory=list)

    def add(self, outputs: torch.Tensor) -> None:
        self.local.append(outputs)

    def upto(self, stop: int) -> list[torch.Tensor]:
        """The outputs of the epoch's steps before `stop`, in order."""
        done = [] if self.done is None else [self.done]
        return done + self.gather(self.local, self.start, stop)


def _end_epoch(
    run: _Run,
    scorer: Scorer,
    options: FitOptions,
    epoch: int,
    outputs: torch.Tensor,
    y_epoch: torch.Tensor,
    val: Data | None,
    batch: int,
) -> EpochReport:
    """Score the epoch's training outputs (K, N, C) on its targets (K, N) and the val split,
    stop diverged and early-stopping models, and add a history row for each model that trained
    this epoch."""
    sample_losses = per_sample_loss(outputs, y_epoch, options.task, options.class_weight)
    train_loss, train_metric = scorer.score(outputs, y_epoch, sample_losses)
    val_loss, val_metric = scorer(*val) if val is not None else (None, None)
    tracker, metric = run.tracker, scorer.metric
    active_before = list(tracker.active)
    tracker.record_divergence(epoch, sample_losses, batch, train_loss, run.records)
    tracker.update(epoch, val_loss if val_loss is not None else train_loss)
    rows: list[dict[str, float] | None] = [None] * len(run.records)
    for i, record in enumerate(run.records):
        if not active_before[i]:
            continue
        row = {"epoch": epoch, "train_loss": train_loss[i], f"train_{metric}": train_metric[i]}
        if val_loss is not None:
            row |= {"val_loss": val_loss[i], f"val_{metric}": val_metric[i]}
        record.history.append(row)
        record.epochs_run = epoch
        rows[i] = row
    return EpochReport(
        epoch,
        options.settings.epochs,
        metric,
        train_loss,
        train_metric,
        val_loss,
        val_metric,
        list(tracker.active),
        rows,
    )
