"""What a command that trains prints when it is done: its typed result as tables and lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nncli.report.describe import describe_times
from nncli.report.fit import Fitted
from nncli.report.gradients import (
    gradient_keys,
    grid_gradient_table,
    grid_notes,
    model_gradient_table,
    model_notes,
)
from nncli.report.tables import (
    comparison_table,
    confusion_table,
    metrics_table,
    per_class_table,
    safe,
    sweep_table,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from nncli.grid.results import GridResult, TrainResult


def train_result(result: TrainResult, *, quiet: bool) -> list[RenderableType]:
    """The metrics by split; unless `quiet`, a classifier's per-class scores on its test (or
    validation) split; its confusion matrix; where the run folder is."""
    shown: list[RenderableType] = [metrics_table(result.metrics, result.task,
                                                 title="Metrics by split",
                                                 positive=result.positive_class,
                                                 baseline=result.baseline,
                                                 headline=result.headline)]  # fmt: skip
    test_split = "test" if "test" in result.metrics else "val"
    if result.classes is not None and not quiet and test_split in result.metrics:
        scores, classes = result.metrics[test_split], result.classes
        if scores.get("per_class"):  # None for a diverged model
            title = f"Per class ({test_split})"
            shown.append(per_class_table(scores["per_class"], classes, title=title,
                                         order=result.class_order))  # fmt: skip
        matrix = scores["confusion_matrix"]
        shown.append(confusion_table(matrix, classes, title=f"Confusion ({test_split})",
                                     order=result.class_order))  # fmt: skip
    if result.diagnostics is not None:
        shown += _model_diagnostics(result.diagnostics)
    shown.append(f"run saved to [bold]{safe(result.run_dir)}[/]")
    return shown


def grid_result(
    result: GridResult, *, quiet: bool, processes: int, saved: str
) -> list[RenderableType]:
    """The variants side by side; unless `quiet`, how long training took (on `processes`
    processes); where the folder is, and what it holds (`saved`)."""
    headline = result.best["metric"] if result.best else None
    shown_as = {"positive": result.positive_class, "loss_kind": result.loss_kind,
                "headline": headline}  # fmt: skip
    if result.kind.varies is not None:  # named by the one key it varies: the activation
        table = Fitted(
            lambda width: comparison_table(result.results, result.task, width=width, **shown_as)
        )
    else:
        table = Fitted(
            lambda width: sweep_table(
                result.results, result.task, result.varied, width=width, **shown_as
            )
        )
    shown: list[RenderableType] = [table]  # the columns that fit the terminal
    if result.results and "grad_norms" in result.results[0]:
        shown += _grid_diagnostics(result)
    if not quiet:
        shown.append(safe(describe_times(result.stacks, processes)))
    shown.append(f"{safe(saved)} in [bold]{safe(result.out_dir)}[/]")
    return shown


def _model_diagnostics(diagnostics: dict) -> list[RenderableType]:
    """The gradient table of one model, its dead and saturated fractions, and what they mean."""
    notes = [safe(note) for note in model_notes(diagnostics)]
    return [model_gradient_table(diagnostics), *notes]


def _grid_diagnostics(result: GridResult) -> list[RenderableType]:
    """The gradient table of a grid, a variant a row, and what its words mean."""
    records = result.results
    keys = gradient_keys(result.kind.record_key, result.varied, records)
    table = Fitted(lambda width: grid_gradient_table(keys, records, width))
    return [table, *(safe(note) for note in grid_notes(records))]
