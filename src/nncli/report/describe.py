"""The prose the user reads around the tables: the setup line before training, the grid and its
times, and what came of a run. Each is plain text; `setup_markup` styles a setup for the
terminal."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

from nncli.config.keys import shown_value
from nncli.report.tables import count, safe
from nncli.tasks import TASKS

if TYPE_CHECKING:
    from nncli.config.schema import Config
    from nncli.data.prepared import PreparedData
    from nncli.grid.results import TrainResult
    from nncli.grid.session import Setup
    from nncli.grid.spec import Grid


def describe_setup(
    config: Config,
    prepared: PreparedData,
    *,
    varied: list[str] = (),
    device: str = "cpu",
    processes: int = 1,
) -> str:
    """The data, the network and the training settings, before training starts; `device` is
    where it trains (what `training.device` chose); `processes` share each batch (torchrun)."""
    dataset = prepared.dataset
    counts = "/".join(str(len(prepared.raw[s][1])) for s in prepared.raw)
    kinds = "/".join(prepared.raw)
    what = f"{len(dataset.classes)} classes" if dataset.classes else "regression target"
    sizes = [prepared.n_features, *config.model.widths, prepared.n_outputs]
    n_params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    t = config.training
    n_train = len(prepared.raw["train"][1])
    wanted = t.batch_size * (processes if t.batch_scope == "process" else 1)
    batch = min(wanted, n_train)
    steps = -(-n_train // batch)
    clamped = f"clamped from {wanted}; " if batch < wanted else ""
    shares = sorted({batch // processes, -(-batch // processes)})  # rows each process computes
    shared = f"{'-'.join(map(str, shares))} per process; " if processes > 1 else ""
    batch_shown = f"{batch} ({clamped}{shared}{count(steps, 'step')} per epoch)"

    def shown(key: str, value: object) -> str:
        return "varied" if key in varied else str(value)

    features = count(prepared.n_features, "feature")
    if prepared.encoder.categorical:
        features = (
            f"{len(dataset.feature_names)} feature columns → {prepared.n_features} inputs"
            f" (one-hot: {prepared.encoder.describe()})"
        )
    notes = "".join(f"\n{NOTE} {note}" for note in [*prepared.notes, *_imbalance(config, prepared)])
    if dataset.classes:
        what += f" ({class_shares(prepared)} in training)"
    activation = "" if "model.activation" in varied else f", {config.model.activation}"
    if "model.depth" in varied and activation:  # a depth-0 variant has no hidden layer to use it
        activation += " in the hidden layers"
    elif config.model.depth == 0:  # a perceptron: inputs straight to outputs
        activation = ", no hidden layer (no activation)"
    network, parameters = " → ".join(map(str, sizes)), f", {n_params} parameters"
    if {"model.width", "model.depth"} & set(varied):
        network, parameters = f"{sizes[0]} → hidden layers varied → {sizes[-1]}", ""
    kind = loss_kind(config, dataset.task)
    loss = f"\n{NOTE} train_loss and val_loss are {LOSS_KINDS[kind]}" if kind else ""
    return (
        f"{config.name}: {len(dataset.y)} rows, {features},"
        f" {what}; split {kinds} {counts} (data.seed {config.data.seed}){notes}\n"
        f"MLP {network}{activation}{parameters};"
        f" SGD lr {shown('training.lr', f'{t.lr:g}')},"
        f" momentum {shown('training.momentum', f'{t.momentum:g}')},"
        f" batch {shown('training.batch_size', batch_shown)},"
        f" {shown('training.epochs', t.epochs)} epochs{_stopping(config, varied)},"
        f" seed {config.seed}{_headline(config)}; on {device}{loss}"
    )


# What a training loss that is not the metric a user would compute is, and which metric is.
LOSS_KINDS = {
    "weighted": "class-weighted cross-entropy (training.class_weight); log_loss in the tables is"
    " unweighted, as scikit-learn computes it",
    "standardized": "the MSE of the standardized target (data.scale_target); mse in the tables"
    " is in the target's units",
}


def loss_kind(config: Config, task: str) -> str | None:
    """`weighted` or `standardized` where the training loss differs from the unweighted,
    original-unit log_loss or mse the tables show; None where it is that metric."""
    if not TASKS[task].classes:  # regression
        return "standardized" if config.data.scale_target else None
    return "weighted" if config.training.class_weight is not None else None


# A minority class under this share of the training split (and under half the largest) makes
# accuracy a poor headline.
MINORITY_SHARE = 0.20
SHOWN_CLASSES = 6  # more classes than this show only the largest and the smallest


def _shares(prepared: PreparedData) -> list[tuple[str, float]]:
    import numpy as np

    classes = prepared.dataset.classes or []
    y = prepared.raw["train"][1].astype(np.int64)
    counts = np.bincount(y, minlength=len(classes)) / max(len(y), 1)
    return [(str(c), float(share)) for c, share in zip(classes, counts, strict=True)]


def class_shares(prepared: PreparedData) -> str:
    """The training split's class shares: `94% No, 6% Yes`."""
    shares = _shares(prepared)
    if len(shares) > SHOWN_CLASSES:
        ordered = sorted(shares, key=lambda s: -s[1])
        shares = [ordered[0], ordered[-1]]
        return (
            f"largest {shares[0][1]:.0%} {shares[0][0]}, smallest {shares[1][1]:.0%} {shares[1][0]}"
        )
    return ", ".join(f"{share:.0%} {name}" for name, share in shares)


def _imbalance(config: Config, prepared: PreparedData) -> list[str]:
    """A note suggesting another headline metric where accuracy can hide a missed class."""
    if not prepared.dataset.classes or config.training.headline_metric not in (None, "accuracy"):
        return []
    shares = _shares(prepared)
    name, share = min(shares, key=lambda s: s[1])
    # Ten even classes are 10% each and not imbalanced: the smallest must also be well short
    # of the largest.
    if share >= MINORITY_SHARE or share >= max(s for _, s in shares) / 2:
        return []
    return [
        f"class {name} is {share:.0%} of the training split: accuracy can hide a missed"
        f" class; consider training.headline_metric: f1 or balanced_accuracy"
    ]


def _stopping(config: Config, varied: list[str]) -> str:
    if any(key.startswith("training.early_stopping") for key in varied):
        return ", early stopping varied"
    stopping = config.training.early_stopping
    if stopping is None:
        return ""
    return f", early stopping on val loss (patience {stopping.patience})"


def _headline(config: Config) -> str:
    name = config.training.headline_metric
    return f"; headline metric {name}" if name is not None else ""


def describe_grid(grid: Grid, *, n_train: int | None = None, processes: int = 1) -> str:
    """How many variants, seeds, models and stacks a sweep trains, and how; with `n_train` (the
    training rows, when no data key is varied) a varied batch size says its steps per epoch;
    `processes` (torchrun) share the models."""
    n_variants = len(grid.values)
    seeds = grid.seeds(0)
    lines = []
    for key in grid.varied:
        shown = dict.fromkeys(shown_value(r[key]) for r in grid.values)
        line = f"varied: {key} = {', '.join(shown)}"
        if key == "training.batch_size" and n_train:
            sizes = dict.fromkeys(min(r[key], n_train) for r in grid.values)
            steps = ", ".join(str(-(-n_train // size)) for size in sizes)
            line += f" ({steps} steps per epoch over {n_train} training rows)"
        lines.append(line)
    sizes = [len(stack) for stack in grid.stacks]
    if grid.spec.sequential:
        how = "one after another"
    elif len(sizes) == 1:
        how = f"at once, stacked along a model axis ({sizes[0]} models in one pass)"
    else:
        how = (
            f"in {len(sizes)} stacks one after another ({', '.join(map(str, sizes))} models each;"
            " a stack shares shapes and step schedule)"
        )
    if processes > 1:
        how = (
            f"split across {processes} processes, each training parts of the"
            f" {count(len(sizes), 'stack')} (two models or more each) on its own;"
            " progress shows rank 0's"
        )
    lines.append(
        f"{count(n_variants, 'variant')} x {count(len(seeds), 'seed')}"
        f" ({', '.join(map(str, seeds))}) = {count(len(grid.models), 'model')}, trained {how}"
    )
    if "model.activation" in grid.varied and all(m.config.model.depth == 0 for m in grid.models):
        lines.append(
            f"{NOTE} model.depth is 0: with no hidden layer the activation is never used, so"
            " every activation gives the same model"
        )
    return "\n".join(lines)


def describe_times(stacks: list[dict], processes: int = 1) -> str:
    """How long training took: each stack's seconds, named by the values its models share when
    there are several stacks; split across `processes`, the slowest part's."""
    from nncli.config.keys import variant_label

    def seconds(stack: dict) -> str:
        if stack["seconds"] is None:
            return "time not known (resumed)"
        return f"{stack['seconds']:.{1 if stack['seconds'] >= 1 else 2}f} s"

    if len(stacks) == 1:
        (stack,) = stacks
        how = "in one pass" if processes == 1 else f"split across {processes} processes"
        return f"training took {seconds(stack)} ({count(stack['models'], 'model')} {how})"
    parts = [
        f"{variant_label(stack['values']) if stack['values'] else f'stack {i}'}: {seconds(stack)}"
        for i, stack in enumerate(stacks, start=1)
    ]
    return f"training took, stack by stack: {'; '.join(parts)}"


def describe_outcome(result: TrainResult) -> str:
    """Which weights a trained model kept, and why."""
    monitor = result.monitor + (f" ({result.loss_kind})" if result.loss_kind else "")
    # An epoch line's train figures average the epoch's batches while the weights changed.
    tables = (
        f"; the tables measure epoch {result.kept_epoch}'s weights once, where an epoch line's"
        " train figures average its batches as the weights changed"
    )
    if result.early_stopping:
        stopped = result.epochs_run < result.epochs
        how = f"stopped early at epoch {result.epochs_run}" if stopped else "ran every epoch"
        return (
            f"early stopping on {monitor} {how}; restored the best weights,"
            f" from epoch {result.kept_epoch}{tables}"
        )
    return (
        f"kept the final weights (epoch {result.kept_epoch}); lowest {monitor} was at"
        f" epoch {result.best_epoch}{tables}"
    )


NOTE = "note:"  # opens a line of the setup that the terminal shows in yellow


def setup_markup(setup: Setup) -> list[str]:
    """A setup's paragraphs as rich markup: its title in bold, each note in yellow."""
    shown = []
    for i, paragraph in enumerate(setup.paragraphs):
        text = safe(paragraph)
        if i == 0 and paragraph.startswith(f"{setup.title}:"):
            text = f"[bold]{safe(setup.title)}[/]{safe(paragraph[len(setup.title) :])}"
        shown.append(re.sub(rf"(?m)^{NOTE}", f"[yellow]{NOTE}[/]", text))
    return shown
