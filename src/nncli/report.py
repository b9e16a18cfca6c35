"""What the user sees in the terminal: progress, metric tables, confusion matrices."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.table import Table

from nncli.metrics import METRICS, metric_names

if TYPE_CHECKING:
    from nncli.engine import EpochReport


def make_console(*, stderr: bool = False) -> Console:
    """A console that wraps to the terminal, or writes long lines whole into files and pipes."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=200)


def format_value(value: float | None, metric: str = "") -> str:
    if value is None:
        spec = METRICS.get(metric)
        return "undefined" if spec is not None and spec.may_be_undefined else "-"
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

    def print(self, message: str) -> None:
        """Print above a live bar (through its console), or plainly when there is none."""
        if self._progress is not None:
            self._progress.console.print(message)
        else:
            make_console(stderr=self.stream is sys.stderr).print(message)

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
    table = Table(title=title)
    table.add_column("metric")
    for split in metrics:
        table.add_column(split, justify="right")
    for metric in metric_names(task):
        unit = METRICS[metric].unit
        label = f"{metric} ({unit})" if unit else metric
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


class ComparisonProgress(EpochProgress):
    """Progress of many models: all at once (one line per epoch), or one after another."""

    def __call__(self, model: int | None, report: EpochReport) -> None:
        if not self.enabled:
            return
        active = sum(report.active)
        losses = report.val_loss if report.val_loss is not None else report.train_loss
        split = "val" if report.val_loss is not None else "train"
        finite = [v for v in losses if v == v and abs(v) != float("inf")]
        best = f"{min(finite):.4f}" if finite else "-"
        if model is None:
            stats = f"{active}/{len(report.active)} models training  best {split}_loss {best}"
            label, done, total = "epoch", report.epoch, report.epochs
        else:
            stats = f"model {model + 1}  {split}_loss {best}"
            label, done, total = f"model {model + 1} epoch", report.epoch, report.epochs
        if self._progress is None:
            finished = model is not None and (not active or report.epoch == report.epochs)
            if model is None:
                print(
                    f"epoch {report.epoch}/{report.epochs}  {stats}", file=self.stream, flush=True
                )
            elif finished:
                print(f"model {model + 1} done after epoch {report.epoch}: {split}_loss {best}",
                      file=self.stream, flush=True)  # fmt: skip
            return
        if self._task is None:
            self._task = self._progress.add_task(label, total=total, stats="")
        self._progress.update(self._task, completed=done, total=total, stats=stats)


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans)


def _mean_std(stats: dict | None, digits: int = 4, *, single: bool = False) -> str:
    """`mean ± std`, or the value alone when one seed gives no spread to speak of."""
    if not stats or stats.get("mean") is None:
        return "-"
    if single:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def comparison_table(results: list[dict], task: str) -> Table:
    """One row per activation: mean ± std over seeds, and what the gradients did."""
    metrics = metric_names(task)[:2]  # the headline and the next: the table is wide already
    table = Table(title="Activations compared (mean ± std over seeds)")
    splits = list(results[0]["metrics"])
    columns = [f"{s} loss" for s in splits] + [f"{splits[-1]} {m}" for m in metrics]
    for name in ["activation", *columns, "best epoch", "grad first/out", "dead", "saturated"]:
        table.add_column(name, justify="left" if name == "activation" else "right")
    table.add_column("learned")
    for r in results:
        n = len(r["seeds"])
        learned = f"{r['learned']}/{n}"
        if r["frozen_layers"]:
            learned += f" (layers {_ranges([i + 1 for i in r['frozen_layers']])}: zero gradient)"
        if r["diverged"]:
            learned += f", {r['diverged']} diverged"
        ratio = r["grad_ratio"]
        one = n == 1
        table.add_row(
            r["activation"],
            *(_mean_std(r["metrics"][s]["loss"], single=one) for s in splits),
            *(_mean_std(r["metrics"][splits[-1]][m], single=one) for m in metrics),
            _mean_std(r["best_epoch"], 1, single=one),
            f"{ratio['mean']:.2e}" if ratio["mean"] is not None else "-",
            _mean_std(r["dead_fraction"], 2, single=one),
            _mean_std(r["saturated_fraction"], 2, single=one),
            learned,
        )
    return table
