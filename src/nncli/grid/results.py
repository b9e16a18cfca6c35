"""What a command that trains returns: typed results, each with the `--json` contract as
`to_json()`. They live in the grid layer so the report layer can render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nncli.runs.layout import RunKind


@dataclass(frozen=True)
class TrainResult:
    """`nncli train`: where the run folder is, and how the one model trained."""

    run_dir: Path
    task: str
    device: str
    classes: list | None  # classification only
    epochs_run: int
    best_epoch: int
    kept_epoch: int
    monitor: str  # the loss the best epoch was chosen on: val_loss, or train_loss
    metrics: dict  # split -> metric -> value
    epochs: int  # training.epochs: how many it would have run
    early_stopping: bool  # whether training.early_stopping was on
    positive_class: object = None  # the class binary scores take as positive (None: no such)
    loss_kind: str | None = None  # train/val loss `weighted` or `standardized`, or plain
    class_order: list | None = None  # data.class_order: how per-class tables list the classes
    # split -> metric -> what a model that ignores its inputs scores (train/stack.py)
    baseline: dict | None = None
    headline: str | None = None  # the metric tables highlight (training.headline_metric)
    # With --diagnostics: per-layer gradients, dead and saturated units (summary.model_diagnostics)
    diagnostics: dict | None = None
    # What the run warned of once trained (a step network's frozen layers, a model that did not
    # learn); run.json keeps them too.
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """metrics.json: what the run measured."""
        return {
            "task": self.task,
            "device": self.device,
            **({"classes": self.classes} if self.classes is not None else {}),
            **({"positive_class": self.positive_class} if self.positive_class is not None else {}),
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "kept_epoch": self.kept_epoch,
            "monitor": self.monitor,
            **({"loss_kind": self.loss_kind} if self.loss_kind else {}),
            **({"class_order": self.class_order} if self.class_order else {}),
            "metrics": self.metrics,
            **({"headline": self.headline} if self.headline else {}),
            **({"baseline": self.baseline} if self.baseline is not None else {}),
            **({"diagnostics": self.diagnostics} if self.diagnostics is not None else {}),
            "warnings": self.warnings,
        }

    def to_json(self) -> dict:
        """What `nncli train --json` prints."""
        return {"run_dir": str(self.run_dir), **self.summary()}


@dataclass(frozen=True)
class GridResult:
    """`nncli sweep` and `nncli compare-activations`: the folder, and each variant over its
    seeds (a comparison's records named by the key it varies)."""

    kind: RunKind
    out_dir: Path
    task: str
    device: str
    varied: list[str]
    results: list[dict]
    stacks: list[dict]  # each stack's models, shared values and seconds
    positive_class: object = None  # the class binary scores take as positive (None: no such)
    loss_kind: str | None = None  # each split's `loss` `weighted` or `standardized`, or plain
    # The variant chosen on validation (grid/summary.py `choose`): its label (None: none may
    # be, with the reason), the split and metric it was chosen on, and its value there.
    best: dict | None = None
    warnings: list[str] = field(default_factory=list)  # the variants that did not learn

    def to_json(self) -> dict:
        """What --json prints, and summary.json holds."""
        summary: dict = {"out_dir": str(self.out_dir), "task": self.task, "device": self.device}
        if self.kind.varies is None:  # a comparison's records say what they vary
            summary["varied"] = self.varied
        if self.positive_class is not None:
            summary["positive_class"] = self.positive_class
        if self.loss_kind:
            summary["loss_kind"] = self.loss_kind
        if self.best is not None:
            summary["headline"] = self.best["metric"]
            summary["best"] = self.best
        return summary | {
            "results": self.results,
            "stacks": self.stacks,
            "warnings": self.warnings,
        }
