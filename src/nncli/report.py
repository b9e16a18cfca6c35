"""What the user sees in the terminal: progress, metric tables, confusion matrices."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from nncli.engine import EpochReport

REGRESSION_ORDER = ("mse", "mape", "mae", "r2")
CLASSIFICATION_ORDER = ("accuracy", "f1", "precision", "recall")


def make_console(*, stderr: bool = False) -> Console:
    """A console that wraps to the terminal, or writes long lines whole into files and pipes."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=200)


def format_value(value: float | None, metric: str = "") -> str:
    if value is None:
        return "undefined" if metric == "mape" else "-"
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"


def epoch_line(report: EpochReport, model: int = 0) -> str:
    parts = [f"epoch {report.epoch}/{report.epochs}", f"train_loss {report.train_loss[model]:.4f}"]
    parts.append(f"train_{report.metric} {report.train_metric[model]:.4f}")
    if report.val_loss is not None and report.val_metric is not None:
        parts.append(f"val_loss {report.val_loss[model]:.4f}")
        parts.append(f"val_{report.metric} {report.val_metric[model]:.4f}")
    return "  ".join(parts)


class EpochProgress:
    """A rich progress bar on a terminal; one plain line per epoch anywhere else."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True):
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self._progress = None
        self._task = None

    def __enter__(self) -> EpochProgress:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __call__(self, report: EpochReport) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            print(epoch_line(report), file=self.stream, flush=True)
            return
        if self._task is None:
            self._task = self._progress.add_task("train", total=report.epochs, stats="")
        stats = f"loss {report.train_loss[0]:.4f}"
        if report.val_loss is not None and report.val_metric is not None:
            stats += f"  val_loss {report.val_loss[0]:.4f}  val_{report.metric} "
            stats += f"{report.val_metric[0]:.4f}"
        self._progress.update(self._task, completed=report.epoch, stats=stats)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def metrics_table(metrics: dict[str, dict], task: str, *, title: str = "Metrics") -> Table:
    order = CLASSIFICATION_ORDER if task == "classification" else REGRESSION_ORDER
    table = Table(title=title)
    table.add_column("metric")
    for split in metrics:
        table.add_column(split, justify="right")
    for metric in order:
        label = "mape (fraction)" if metric == "mape" else metric
        table.add_row(label, *(format_value(metrics[s].get(metric), metric) for s in metrics))
    return table


def confusion_table(matrix: list[list[int]], classes: list, *, title: str) -> Table:
    table = Table(title=title)
    table.add_column("true \\ predicted")
    for label in classes:
        table.add_column(str(label), justify="right")
    for label, row in zip(classes, matrix, strict=True):
        table.add_row(str(label), *(str(v) for v in row))
    return table
