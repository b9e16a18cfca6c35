"""The training engine: mini-batch SGD for K stacked models at once (K = 1 for `train`).

With K = 1 the engine trains a plain `nn.Sequential` whose parameters are views of the stacked
ones, so a single run costs what a bare PyTorch loop costs, and ends bit for bit where that loop
ends. With K > 1 every step is one batched forward and backward pass for all models. The two
paths compute the same arithmetic, but batched kernels may round differently (about 1e-7
relative per operation on the CPU), so a stacked model matches its solo run to float32 rounding,
not bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nncli.model.mlp import StackedMLP
from nncli.train.backprop import ExplicitStep
from nncli.train.losses import Scorer, per_sample_loss
from nncli.train.parallel import DataParallel, GradientSync
from nncli.train.sgd import StackedSGD, UpdateRule
from nncli.train.state import (
    EpochReport,
    FitSettings,
    ModelRecord,
    ModelSettings,
    TrainingState,
    TrainingStopped,
)
from nncli.train.steps import Engine, Precision, choose_step
from nncli.train.tracker import Tracker


def fit(
    model: StackedMLP,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    task: str,
    settings: FitSettings,
    models: list[ModelSettings],
    target_scale: float = 1.0,
    on_epoch: Callable[[EpochReport], None] | None = None,
    probe_gradients: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainingState], None] | None = None,
    resume: TrainingState | None = None,
    class_weight: torch.Tensor | None = None,
    engine: Engine = "auto",
    precision: Precision = "fp32",
    cuda_graphs: bool = False,
    group: DataParallel | None = None,
    update_rule: UpdateRule | None = None,
) -> list[ModelRecord]:
    """Train every model in `model` in place; return one record per model.

    `target_scale` converts regression losses on scaled targets back to the original units.
    `probe_gradients` records each layer's gradient norm during the first epoch.
    `should_stop` is asked before every step; when it says yes, `TrainingStopped` is raised with
    the state to `resume` from. `on_checkpoint` gets the state after every epoch. `resume`
    continues from such a state (with `model` holding its parameters). `class_weight` (C,)
    weighs each class in the classification loss, as `F.cross_entropy(weight=...)` does.
    `engine` and `precision`: see `steps.choose_step`. `cuda_graphs` replays the explicit
    step's full batches as one captured CUDA graph (graphs.py) when training on CUDA.

    With `group`, every rank of a torchrun launch calls `fit` with the same model, data and
    settings, and trains its shard of every batch (`settings.batch_size` is the whole batch's):
    the gradients are summed over the ranks before each update, so every rank holds the same
    parameters, and each epoch's outputs are gathered, so every rank reports the same losses
    and makes the same early-stopping decisions as one process would, to float32 rounding. A
    stop request on any rank stops every rank at the same step. `update_rule`: SGD's arithmetic,
    when these models are a part of a larger stack (see `sgd.UpdateRule`).
    """
    k = model.n_models
    x_train, y_train = train  # (N, F), (N,)
    n = len(x_train)
    batch = min(settings.batch_size, n)
    steps_per_epoch = -(-n // batch)
    shufflers = [torch.Generator().manual_seed(m.seed) for m in models]
    optimizer = StackedSGD(list(model.parameters()), [m.sgd for m in models], update_rule)
    sync = None
    if group is not None:
        group.broadcast_parameters(list(model.parameters()))  # the leader's, exactly
        sync = GradientSync(group, list(model.parameters()))
    step = choose_step(model, optimizer, task, class_weight, engine, precision, sync)
    if cuda_graphs and x_train.is_cuda and isinstance(step, ExplicitStep) and group is None:
        from nncli.train.graphs import GraphedStep

        full_batch = (batch, x_train.shape[1]) if k == 1 else (k, batch, x_train.shape[1])
        step = GraphedStep(step, torch.Size(full_batch))
    measure = Scorer(_shared_predict(step.predict, group), task, target_scale, class_weight)
    tracker = Tracker(model, models, has_val=val is not None)
    if resume is None:
        records = [ModelRecord() for _ in range(k)]
        grad_sums = None
        if probe_gradients:  # (L, K), on the model's device: no transfer inside the step loop
            grad_sums = torch.zeros(len(model.weights), k, device=x_train.device)
        first_epoch, resume_order, first_step, done_outputs = 1, None, 0, None
    else:
        optimizer.load_state_dict({"momentum_buffers": resume.momentum_buffers})
        for shuffler, state in zip(shufflers, resume.shuffler_states, strict=True):
            shuffler.set_state(state)
        tracker.load(resume.tracker, resume.best_params)
        records, grad_sums, first_epoch = resume.records, resume.grad_sums, resume.epoch
        first_step = resume.step
        # Saved states live on the CPU; the epoch in progress continues on the model's device.
        resume_order = resume.order.to(x_train.device) if resume.order is not None else None
        done_outputs = resume.outputs.to(x_train.device) if resume.outputs is not None else None
        if grad_sums is not None:
            grad_sums = grad_sums.to(x_train.device)

    def snapshot(epoch: int, step: int, order, step_outputs) -> TrainingState:
        outputs = None
        if step_outputs:
            outputs = torch.cat(step_outputs, dim=-2).view(k, -1, step_outputs[0].shape[-1])
        return TrainingState(
            epoch=epoch,
            step=step,
            order=order,
            outputs=outputs,
            shuffler_states=[g.get_state() for g in shufflers],
            momentum_buffers=optimizer.state_dict()["momentum_buffers"],
            tracker=tracker.state(),
            best_params=tracker.best_params,
            grad_sums=grad_sums,
            records=records,
        )

    def gathered(local: list[torch.Tensor], start: int, stop: int) -> list[torch.Tensor]:
        """Data-parallel: steps [start, stop) of every rank's outputs, in the epoch's order."""
        if group is None or stop <= start:
            return local
        rows = group.batch_rows(n, batch, start, stop)
        return [group.gather_rows(torch.cat(local, dim=-2), rows)]

    for epoch in range(first_epoch, settings.epochs + 1):
        if resume_order is not None:  # resuming inside this epoch
            order, resume_order = resume_order, None
        else:
            order = torch.stack([torch.randperm(n, generator=g) for g in shufflers])  # (K, N)
        x_epoch, y_epoch = x_train[order], y_train[order]  # (K, N, F), (K, N)
        if k == 1:  # one model's batches are 2-D
            x_epoch, y_epoch = x_epoch[0], y_epoch[0]
        # Each step's outputs, kept (a list append is the cheapest record) to report the epoch's
        # training loss and metric, and find a diverging step, without another pass over the data.
        step_outputs: list[torch.Tensor] = []
        if done_outputs is not None:
            step_outputs.append(done_outputs)
            done_outputs = None
        probe = grad_sums if epoch == 1 else None
        # The epoch's batches as views, made at once: cheaper than slicing at every step.
        targets = step.targets(y_epoch)  # (K, N) or, one-hot, (K, N, C)
        rows_axis = y_epoch.dim() - 1
        batches = zip(x_epoch.split(batch, dim=-2), targets.split(batch, dim=rows_axis),
                      strict=True)  # fmt: skip
        # Data-parallel, this rank's outputs of this epoch's steps from `segment` on (those
        # before it, done before a resume, are in `step_outputs` already, whole).
        segment, local_outputs = first_step, []
        for step_index, (x_batch, y_batch) in enumerate(batches):
            if step_index < first_step:  # done before the run was stopped
                continue
            if sync is None:
                if should_stop is not None and should_stop():
                    state = snapshot(epoch, step_index, order, step_outputs)
                    raise TrainingStopped(state, list(model.parameters()))
                step_outputs.append(step(x_batch, y_batch, probe))
                continue
            if sync.stop_agreed:  # a rank was asked to stop during the last step
                done = step_outputs + gathered(local_outputs, segment, step_index)
                raise TrainingStopped(
                    snapshot(epoch, step_index, order, done), list(model.parameters())
                )
            sync.stop_requested = should_stop is not None and should_stop()
            lo, hi = group.bounds(x_batch.shape[-2])
            shard = y_batch.narrow(rows_axis, lo, hi - lo)
            local_outputs.append(
                step(x_batch[..., lo:hi, :], shard, probe, step.denominator(y_batch))
            )
        first_step = 0
        step_outputs += gathered(local_outputs, segment, steps_per_epoch)

        epoch_outputs = torch.cat(step_outputs, dim=-2).view(k, n, -1)  # (K, N, C)
        y_epoch = y_epoch.view(k, n)
        sample_losses = per_sample_loss(epoch_outputs, y_epoch, task, class_weight)  # (K, N)
        train_loss, train_metric = measure.score(epoch_outputs, y_epoch, sample_losses)
        val_loss, val_metric = measure(*val) if val is not None else (None, None)
        active_before = list(tracker.active)
        tracker.record_divergence(epoch, sample_losses, batch, train_loss, records)
        tracker.update(epoch, val_loss if val_loss is not None else train_loss)
        for i, record in enumerate(records):
            if not active_before[i]:
                continue
            row = {"epoch": epoch, "train_loss": train_loss[i]}
            row[f"train_{measure.metric}"] = train_metric[i]
            if val_loss is not None:
                row |= {"val_loss": val_loss[i], f"val_{measure.metric}": val_metric[i]}
            record.history.append(row)
            record.epochs_run = epoch
        if on_epoch is not None:
            on_epoch(
                EpochReport(
                    epoch,
                    settings.epochs,
                    measure.metric,
                    train_loss,
                    train_metric,
                    val_loss,
                    val_metric,
                    list(tracker.active),
                )
            )
        if not any(tracker.active):
            break
        if on_checkpoint is not None:
            on_checkpoint(snapshot(epoch + 1, 0, None, []))

    tracker.finish(records)
    if grad_sums is not None:
        for record, norms in zip(records, (grad_sums / steps_per_epoch).T.tolist(), strict=True):
            record.grad_norms = norms
    return records


def _shared_predict(predict: Callable, group: DataParallel | None) -> Callable:
    """`predict`, or data-parallel: each rank predicts its share of the rows and every rank
    gets all of them, in order."""
    if group is None:
        return predict

    def shared(x: torch.Tensor) -> torch.Tensor:
        lo, hi = group.bounds(len(x))
        return group.gather_rows(predict(x[lo:hi]), group.split_rows(len(x)))

    return shared
