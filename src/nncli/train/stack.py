"""The one training path: a stack of model configs in, one trained, measured model per config out.

`nncli train` is a stack of one; a sweep trains each group of shape-compatible variants as one
stack. Models of a stack share the data, the shapes and the step schedule; each may have its own
seed, activation and SGD settings (see `PER_MODEL_KEYS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from nncli.config.keys import stack_key
from nncli.config.schema import Config
from nncli.data.prepared import PreparedData
from nncli.data.preprocessing import SPLITS
from nncli.errors import UsageError, excerpt, excerpts
from nncli.model.card import ModelCard
from nncli.model.diagnostics import dead_fraction, saturated_fraction
from nncli.model.mlp import StackedMLP, load_parameters
from nncli.tasks import TASKS
from nncli.train.baseline import baseline_metrics
from nncli.train.choice import beats, choice_split, headline_of, shortfall
from nncli.train.devices import matmul_precision, resolve_device
from nncli.train.engine import fit
from nncli.train.losses import input_blind_loss, single_loss
from nncli.train.parallel import DataParallel, Ranks
from nncli.train.sgd import SGDSettings, UpdateRule
from nncli.train.state import (
    EpochReport,
    FitOptions,
    FitSettings,
    ModelRecord,
    ModelSettings,
    TrainingState,
)
from nncli.train.threads import stack_threads, torch_threads


@dataclass
class ModelFit:
    """One trained model: its config, how training went, its kept weights and measurements."""

    config: Config  # this model's own: `nncli train` with it builds the same model
    record: ModelRecord
    net: nn.Sequential  # the kept weights, on the CPU, as `nncli train` saves them
    card: ModelCard
    metrics: dict[str, dict]  # split -> the task's metrics (all None for a diverged model)
    losses: dict[str, float | None]  # split -> loss (cross-entropy, or MSE on the scaled target)
    baseline_loss: float  # training loss of the best prediction that ignores the inputs
    # split -> metric -> what the input-blind model scores (`baseline_metrics`)
    baseline: dict[str, dict]
    headline: str  # the metric `learned` and a grid's choice read (`training.headline_metric`)
    dead_fraction: float | None = None  # with diagnostics only
    saturated_fraction: float | None = None
    # Wall-clock seconds its stack took to train (shared by the stack's models); None for a stack
    # resumed part-way, whose time before the interruption is not known.
    stack_seconds: float | None = None

    @property
    def learned(self) -> bool:
        """Whether it beats the input-blind baseline on the headline metric by `choice.margin`,
        on validation (on training where there is no validation split), and a classifier answers
        more than one class there (a constant answer can beat the training majority by luck of
        the split): a falling loss is not enough."""
        split = choice_split(self.metrics)
        value = self.metrics[split].get(self.headline)
        baseline = self.baseline[split].get(self.headline)
        if value is None or baseline is None or self._only_class(split) is not None:
            return False
        return beats(value, baseline, self.headline)

    def _only_class(self, split: str) -> object | None:
        """The one class a classifier predicts on `split`, if it predicts only one."""
        matrix = self.metrics[split].get("confusion_matrix")
        if not matrix or len(matrix) < 2:
            return None
        predicted = [sum(column) for column in zip(*matrix, strict=True)]  # (C,)
        if sum(n > 0 for n in predicted) != 1:
            return None
        return (self.card.classes or [])[predicted.index(max(predicted))]

    def baseline_warning(self) -> str | None:
        """`the model did not learn: ...` for a model no better than ignoring its inputs (by
        `choice.margin`), or a classifier that answers one class only, naming both numbers;
        None for one that learned."""
        split = choice_split(self.metrics)
        value = self.metrics[split].get(self.headline)
        baseline = self.baseline[split].get(self.headline)
        if value is None or baseline is None:
            return None
        classifier = "confusion_matrix" in self.metrics[split]
        blind = "the majority-class baseline" if classifier else "the mean baseline"
        only = self._only_class(split)
        if only is not None:
            return (
                f"the model did not learn: it predicts one class only ({only}) on the {split}"
                f" split ({split} {self.headline} {value:.4f}; {blind} {baseline:.4f})"
            )
        if not beats(value, baseline, self.headline):
            return (
                f"the model did not learn: {split} {self.headline} {value:.4f}"
                f" {shortfall(value, baseline, self.headline).replace('the baseline', blind)}"
                " (a model that ignores its inputs)"
            )
        return None

    @property
    def grad_ratio(self) -> float | None:
        """First hidden layer's gradient norm over the output layer's: < 1 means vanishing."""
        norms = self.record.grad_norms or []
        if len(norms) < 2 or not norms[-1]:
            return None
        return norms[0] / norms[-1]


def whole_batch(config: Config, group: DataParallel | Ranks | None) -> int:
    """The batch one SGD step takes: `training.batch_size`, or under torchrun with
    `training.batch_scope: process` that many rows per process."""
    processes = 1 if group is None else group.world
    scale = processes if config.training.batch_scope == "process" else 1
    return config.training.batch_size * scale


def batch_size_note(config: Config, prepared: PreparedData) -> str | None:
    """Why the batch size used differs from the config's, if it does."""
    n_train = len(prepared.raw["train"][1])
    if config.training.batch_size <= n_train:
        return None
    return (
        f"training.batch_size {config.training.batch_size} is larger than the training split"
        f" ({n_train} rows); using {n_train}"
    )


def class_weights(config: Config, prepared: PreparedData) -> torch.Tensor | None:
    """(C,) weights of `training.class_weight` for this data, or None; bad names are UsageErrors."""
    wanted = config.training.class_weight
    if wanted is None:
        return None
    if not TASKS[prepared.task].classes:
        raise UsageError("training.class_weight: applies to classification only")
    classes = prepared.dataset.classes or []
    counts = torch.bincount(torch.as_tensor(prepared.raw["train"][1]), minlength=len(classes))
    if wanted == "balanced":
        if bool((counts == 0).any()):
            absent = classes[int((counts == 0).int().argmax())]
            raise UsageError(
                f"training.class_weight: balanced weights need every class in the training"
                f" split, and {excerpt(absent)} has no rows there"
            )
        return (counts.sum() / (len(classes) * counts)).float()
    by_name = {str(c): i for i, c in enumerate(classes)}
    unknown = [label for label in wanted if str(label) not in by_name]
    if unknown:
        raise UsageError(
            f"training.class_weight: {excerpt(unknown[0])} is not a class; the classes are"
            f" {excerpts(classes)}"
        )
    weights = torch.ones(len(classes))
    for label, weight in wanted.items():
        weights[by_name[str(label)]] = weight
    return weights


def train_stack(
    configs: list[Config],
    prepared: PreparedData,
    *,
    diagnostics: bool = False,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainingState, list[torch.Tensor]], None] | None = None,
    resume: tuple[TrainingState, list[torch.Tensor]] | None = None,
    group: DataParallel | None = None,
    stack: list[Config] | None = None,
    prune: Callable[[EpochReport], list[int]] | None = None,
) -> list[ModelFit]:
    """Train the models `configs` describe, at once, on `prepared` data; one fit per config.

    `diagnostics` probes first-epoch gradients and dead and saturated units. `on_checkpoint`
    gets the resumable state (and the stacked parameters) after every epoch; `resume` is such a
    pair. A stop request raises `engine.TrainingStopped` with the state to resume from. With
    `group`, every rank of a launch trains the stack data-parallel (`engine.fit`); only the
    leader measures the models, and the other ranks return no fits. `stack`: the configs of the
    whole stack `configs` are a part of (a sweep split across processes), so that each model
    trains as it would there. `prune` names, after each epoch, the models to stop (`engine.fit`).
    """
    first = configs[0]
    if any(stack_key(c) != stack_key(first) for c in configs):
        raise ValueError("configs of one stack may differ only in PER_MODEL_KEYS")
    device = resolve_device(first.training.device)
    # The threads a stack trains with are its own: the caller's count is back afterwards.
    with torch_threads(stack_threads(first, prepared, len(configs))):
        train = prepared.tensors("train", device)
        val = prepared.tensors("val", device) if "val" in prepared.raw else None
        card = ModelCard.describe(first, prepared)  # the stack's: its models differ in config only
        stacked = StackedMLP.from_seeds(
            card.sizes, [c.model.activation for c in configs], [c.seed for c in configs]
        )
        if resume is not None:
            load_parameters(stacked, resume[1])
        stacked = stacked.to(device)
        weight = class_weights(first, prepared)
        checkpoint = None
        if on_checkpoint is not None:

            def checkpoint(state: TrainingState) -> None:
                on_checkpoint(state, list(stacked.parameters()))

        options = FitOptions(
            task=prepared.task,
            settings=FitSettings(whole_batch(first, group), first.training.epochs),
            models=[_model_settings(c) for c in configs],
            target_scale=prepared.target_scale,
            probe_gradients=diagnostics,
            class_weight=weight.to(device) if weight is not None else None,
            precision=first.training.precision,
            cuda_graphs=first.training.cuda_graphs,
            update_rule=UpdateRule.of([_model_settings(c).sgd for c in stack or configs]),
        )
        with matmul_precision(first.training.precision):
            records = fit(
                stacked,
                train,
                val,
                options,
                resume=resume[0] if resume is not None else None,
                group=group,
                on_epoch=on_epoch,
                should_stop=should_stop,
                on_checkpoint=checkpoint,
                prune=prune,
            )
        if group is not None and not group.ranks.leader:
            return []
        nets = [stacked.member(k).cpu() for k in range(len(configs))]
        return measure_stack(configs, prepared, nets, records, card, weight, diagnostics)


def measure_stack(
    configs: list[Config],
    prepared: PreparedData,
    nets: list[nn.Sequential],
    records: list[ModelRecord],
    card: ModelCard,
    weight: torch.Tensor | None,
    diagnostics: bool = False,
) -> list[ModelFit]:
    """Each trained model of a stack: its metrics and losses on every split (and its unit
    diagnostics). `card` (`ModelCard.describe` of the first config) and `weight`
    (`class_weights`) are the stack's, computed once: its models share data and shapes."""
    tensors = {split: prepared.tensors(split, torch.device("cpu")) for split in prepared.raw}
    baseline = input_blind_loss(*tensors["train"], prepared.task, weight)
    blind = baseline_metrics(prepared, card.positive)
    headline = headline_of(configs[0].training.headline_metric, prepared.task)
    fits = []
    for config, net, record in zip(configs, nets, records, strict=True):
        net = net.eval()
        model_card = card.for_config(config)
        # One pass over each split for its loss and its metrics: the tensors are the scaled
        # features `predict_raw` would make of the raw ones, so the metrics are `measure`'s.
        with torch.no_grad():
            outputs = {split: net(x) for split, (x, _) in tensors.items()}
        model_fit = ModelFit(
            config=config,
            record=record,
            net=net,
            card=model_card,
            metrics={
                s: model_card.scores(model_card.predictions(outputs[s]), prepared.raw[s][1])
                for s in SPLITS
                if s in tensors
            },
            losses=_losses(outputs, tensors, prepared.task, weight),
            baseline_loss=baseline,
            baseline=blind,
            headline=headline,
        )
        if diagnostics:
            x_train, activation = tensors["train"][0], config.model.activation
            model_fit.dead_fraction = dead_fraction(net, activation, x_train)
            model_fit.saturated_fraction = saturated_fraction(net, activation, x_train)
        fits.append(model_fit)
    return fits


def _model_settings(config: Config) -> ModelSettings:
    training = config.training
    stopping = training.early_stopping
    return ModelSettings(
        seed=config.seed,
        sgd=SGDSettings(
            lr=training.lr,
            momentum=training.momentum,
            weight_decay=training.weight_decay,
            nesterov=training.nesterov,
        ),
        patience=stopping.patience if stopping else None,
        min_delta=stopping.min_delta if stopping else 0.0,
    )


def _losses(
    outputs: dict, tensors: dict, task: str, weight: torch.Tensor | None
) -> dict[str, float | None]:
    """Each split's mean loss from the model's `outputs` on it (None where not finite)."""
    losses = {}
    for split, (_, y) in tensors.items():
        loss = float(single_loss(outputs[split], y, task, weight))
        losses[split] = loss if math.isfinite(loss) else None
    return losses
