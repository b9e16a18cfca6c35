"""What the user sees in the terminal: progress, metric tables, confusion matrices."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nncli.config.keys import short_key, shown_value
from nncli.errors import printable
from nncli.metrics import METRICS, metric_names

if TYPE_CHECKING:
    pass


def safe(text: object) -> str:
    """Text from data, paths, folders or files as rich markup that shows it literally: its
    markup escaped (a label `[/]` or `[link=...]`) and its control characters visible
    (`errors.printable`). Every string a rich console or table parses goes through it."""
    return escape(printable(text))


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


def metrics_table(metrics: dict[str, dict], task: str, *, title: str = "Metrics") -> Table:
    table = Table(title=safe(title))
    table.add_column("metric")
    for split in metrics:
        table.add_column(split, justify="right")
    for metric in metric_names(task):
        unit = METRICS[metric].unit
        label = f"{metric} ({unit})" if unit else metric
        table.add_row(label, *(format_value(metrics[s].get(metric), metric) for s in metrics))
    return table


def per_class_table(per_class: list[dict], classes: list, *, title: str) -> Table:
    """Precision, recall, F1 and support of each class: what an average can hide."""
    table = Table(title=safe(title))
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    for label, scores in zip(classes, per_class, strict=True):
        table.add_row(
            safe(label),
            *(f"{scores[m]:.4f}" for m in ("precision", "recall", "f1")),
            str(scores["support"]),
        )
    return table


def confusion_table(matrix: list[list[int]], classes: list, *, title: str) -> Table:
    table = Table(title=safe(title))
    table.add_column("true \\ predicted")
    for label in classes:
        table.add_column(safe(label), justify="right")
    for label, row in zip(classes, matrix, strict=True):
        table.add_row(safe(label), *(str(v) for v in row))
    return table


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans)


def _mean_std(
    stats: dict | None, digits: int = 4, *, single: bool = False, metric: str = ""
) -> str:
    """`mean ± std`, or the value alone when one seed gives no spread to speak of; a metric
    with no value is `undefined` where it may have no meaning (MAPE), else `-`."""
    if not stats or stats.get("mean") is None:
        return format_value(None, metric)
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
            safe(r["activation"]),
            *(_mean_std(r["metrics"][s]["loss"], single=one) for s in splits),
            *(_mean_std(r["metrics"][splits[-1]][m], single=one, metric=m) for m in metrics),
            _mean_std(r["best_epoch"], 1, single=one),
            f"{ratio['mean']:.2e}" if ratio["mean"] is not None else "-",
            _mean_std(r["dead_fraction"], 2, single=one),
            _mean_std(r["saturated_fraction"], 2, single=one),
            learned,
        )
    return table


def sweep_table(results: list[dict], task: str, varied: list[str]) -> Table:
    """One row per variant: its values, mean ± std over seeds per split, and how it went."""
    metrics = metric_names(task)[:2]  # the headline and the next: the table is wide already
    table = Table(title="Sweep (mean ± std over seeds)")
    splits = list(results[0]["metrics"])
    for key in varied:
        table.add_column(safe(short_key(key, varied)))
    columns = [f"{s} loss" for s in splits] + [f"{splits[-1]} {m}" for m in metrics]
    for name in [*columns, "best epoch", "learned"]:
        table.add_column(name, justify="right")
    table.add_column("diverged (seed: epoch, step)")
    for r in results:
        one = len(r["seeds"]) == 1
        where = "; ".join(f"{d['seed']}: {d['epoch']}, {d['step']}" for d in r["diverged_at"])
        table.add_row(
            *(safe(shown_value(r["values"][k])) for k in varied),
            *(_mean_std(r["metrics"][s]["loss"], single=one) for s in splits),
            *(_mean_std(r["metrics"][splits[-1]][m], single=one, metric=m) for m in metrics),
            _mean_std(r["best_epoch"], 1, single=one),
            f"{r['learned']}/{len(r['seeds'])}",
            f"{r['diverged']}/{len(r['seeds'])}" + (f" ({where})" if where else ""),
        )
    return table


def datasets_table() -> Table:
    """`nncli datasets`: every registered set."""
    from nncli.datasets import DATASETS

    table = Table(title="Built-in datasets (data.source)")
    for column in ("name", "task", "kind", "description"):
        table.add_column(column)
    for name, spec in DATASETS.items():
        kind = "synthetic" if spec.synthetic else "scikit-learn"
        table.add_row(name, spec.task, kind, spec.description)
    return table


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
