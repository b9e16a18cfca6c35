"""What training reads and returns: the settings of a stack and `fit`'s options, each model's
record, the resumable state, the per-epoch report, and the stops that leave something to resume.

Plain data: the run folder, the progress display and the state file name these types without
importing the engine that fills them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from nncli.train.sgd import SGDSettings, UpdateRule

# Which step trains (see `steps.choose_step`), and in what precision.
Engine = Literal["auto", "explicit", "autograd"]
Precision = Literal["fp32", "tf32", "bf16"]


@dataclass(frozen=True)
class FitSettings:
    """What every model of a stack shares: the batches and the epochs."""

    batch_size: int
    epochs: int


@dataclass(frozen=True)
class ModelSettings:
    """What each model of a stack may have of its own."""

    seed: int  # its batch order (its weights were drawn from it too)
    sgd: SGDSettings
    patience: int | None = None  # early stopping on val loss when set (and there is a val split)
    min_delta: float = 0.0


@dataclass(frozen=True)
class FitOptions:
    """Everything `engine.fit` trains a stack with, besides the model, the data and the run's
    hooks (callbacks, a state to resume, a data-parallel group)."""

    task: str  # a name of `tasks.TASKS`
    settings: FitSettings
    models: list[ModelSettings]  # one per stacked model
    target_scale: float = 1.0  # regression: the scaled target's unit in original units
    probe_gradients: bool = False  # record each layer's gradient norm during the first epoch
    class_weight: torch.Tensor | None = None  # (C,), as `F.cross_entropy(weight=...)` takes it
    engine: Engine = "auto"
    precision: Precision = "fp32"
    # Replay the explicit step's full batches as one captured CUDA graph (graphs.py) on CUDA.
    cuda_graphs: bool = False
    # SGD's arithmetic, when these models are a part of a larger stack (see `sgd.UpdateRule`).
    update_rule: UpdateRule | None = None


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
    # Each model's history row of this epoch, as its record keeps it (None: it stopped before).
    rows: list[dict[str, float] | None] = field(default_factory=list)


@dataclass
class ModelRecord:
    """How one model's training went."""

    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch it ran
    best_epoch: int = 0  # lowest val loss (train loss when there is no val split)
    kept_epoch: int = 0  # the epoch whose weights the model ends with
    epochs_run: int = 0
    diverged: tuple[int, int] | None = None  # (epoch, step) where the loss became non-finite
    # With probe_gradients: each layer's weight-gradient norm (input layer first), averaged over
    # the steps of the first epoch.
    grad_norms: list[float] | None = None


@dataclass
class TrainingState:
    """Everything `fit` needs to continue where it left off: a stopped and resumed run ends
    with the very bits of an uninterrupted one (tests/test_engine.py, test_interrupts.py)."""

    epoch: int  # the epoch to run (1-based)
    step: int  # steps of it already done
    order: torch.Tensor | None  # (K, N) that epoch's sample order, once drawn
    outputs: torch.Tensor | None  # (K, step * B, C) outputs of its done steps
    shuffler_states: list[torch.Tensor]  # each model's batch-order generator
    momentum_buffers: list[torch.Tensor | None]  # SGD's, one per parameter
    tracker: dict  # best loss and epoch, patience used, active flags
    best_params: list[torch.Tensor]  # the stacked parameters at each model's best epoch
    grad_sums: torch.Tensor | None  # (L, K) first-epoch gradient-norm sums
    records: list[ModelRecord]  # history and counters so far


class Stopped(Exception):
    """A stop request ended a run where it can resume; the run folder records how."""


class TrainingStopped(Stopped):
    """A stop request ended training at a step boundary; `state` and `params` resume it."""

    def __init__(self, state: TrainingState, params: list[torch.Tensor]):
        super().__init__(f"stopped at epoch {state.epoch}, step {state.step}")
        self.state = state
        self.params = params


class PartsStopped(Stopped):
    """A stop request ended a split sweep after a round; every part's progress is saved."""

    def __init__(self, finished: int, stopped: int, total: int):
        super().__init__(f"{finished} of {total} parts finished, {stopped} saved part-way")


class TrialsStopped(Stopped):
    """A stop request ended a search between steps: the trials that finished are in its study
    (`saved`), those it cut short are to be asked again."""

    def __init__(self, finished: int, total: int, saved: str):
        super().__init__(f"{finished} of {total} trials finished")
        self.saved = saved


class OutputsStopped(Stopped):
    """A stop request came while a trained run's files were written: it ended before `name`,
    the files before it whole; the saved state resumes the run, which writes them all again."""

    def __init__(self, name: str):
        super().__init__(f"writing its files, before {name}")
        self.name = name
