"""The one registry of tasks: what differs between classification and regression, as plain
facts, looked up by the name `data.task` and the model card use.

The torch side of a task (its loss, the loss's gradient at the outputs, the per-epoch metric,
the input-blind baseline) is `train.losses.LOSSES`, keyed by the same names; a task's metrics
are the entries of `metrics.METRICS` that name it.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSIFICATION, REGRESSION = "classification", "regression"


@dataclass(frozen=True)
class TaskSpec:
    # The target is a class: the model has one output per class, read as probabilities through
    # softmax, splits are stratified and classes may be weighted. Otherwise it is one number,
    # which may be standardized (`data.scale_target`) and is reported in its own units.
    classes: bool
    target_dtype: str  # numpy dtype of the loaded targets: class indices or values
    loss_name: str  # the training loss as plots name it


TASKS: dict[str, TaskSpec] = {
    CLASSIFICATION: TaskSpec(classes=True, target_dtype="int64", loss_name="cross-entropy loss"),
    REGRESSION: TaskSpec(classes=False, target_dtype="float64", loss_name="MSE loss"),
}
