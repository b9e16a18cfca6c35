"""What the user sees in the terminal: progress, metric tables, confusion matrices."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from nncli.config.keys import short_key, shown_value
from nncli.metrics import METRICS, metric_names

if TYPE_CHECKING:
    pass


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


def metrics_table(
    metrics: dict[str, dict],
    task: str,
    *,
    title: str = "Metrics",
    baseline: dict[str, dict] | None = None,
    headline: str | None = None,
) -> Table:
    """A metric a row, a split a column; with `baseline` (split -> metric -> value), what a
    model that ignores its inputs scores on the last split beside them; `headline` in bold."""
    table = Table(title=title)
    table.add_column("metric")
    for split in metrics:
        table.add_column(split, justify="right")
    blind = (baseline or {}).get(list(metrics)[-1]) if metrics else None
    if blind is not None:
        table.add_column(f"{list(metrics)[-1]} baseline", justify="right", style="dim")
    for metric in metric_names(task):
        unit = METRICS[metric].unit
        label = f"{metric} ({unit})" if unit else metric
        cells = [format_value(metrics[s].get(metric), metric) for s in metrics]
        if blind is not None:
            cells.append(format_value(blind.get(metric), metric))
        table.add_row(label, *cells, style="bold" if metric == headline else None)
    return table


def _shown_metrics(task: str, headline: str | None) -> list[str]:
    """The headline metric and the next: the grid tables are wide already."""
    names = metric_names(task)
    first = headline if headline in names else names[0]
    return [first, next(n for n in names if n != first)]


def per_class_table(per_class: list[dict], classes: list, *, title: str) -> Table:
    """Precision, recall, F1 and support of each class: what an average can hide."""
    table = Table(title=title)
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    for label, scores in zip(classes, per_class, strict=True):
        table.add_row(
            str(label),
            *(f"{scores[m]:.4f}" for m in ("precision", "recall", "f1")),
            str(scores["support"]),
        )
    return table


def confusion_table(matrix: list[list[int]], classes: list, *, title: str) -> Table:
    table = Table(title=title)
    table.add_column("true \\ predicted")
    for label in classes:
        table.add_column(str(label), justify="right")
    for label, row in zip(classes, matrix, strict=True):
        table.add_row(str(label), *(str(v) for v in row))
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


def comparison_table(results: list[dict], task: str, headline: str | None = None) -> Table:
    """One row per activation: mean ± std over seeds, and what the gradients did."""
    metrics = _shown_metrics(task, headline)
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
            *(_mean_std(r["metrics"][splits[-1]][m], single=one, metric=m) for m in metrics),
            _mean_std(r["best_epoch"], 1, single=one),
            f"{ratio['mean']:.2e}" if ratio["mean"] is not None else "-",
            _mean_std(r["dead_fraction"], 2, single=one),
            _mean_std(r["saturated_fraction"], 2, single=one),
            learned,
            style="bold" if _is_best(r) else None,
        )
    _baseline_row(table, results, splits, metrics, before=0, after=5)
    table.caption = choice_caption(results, [r["activation"] for r in results])
    table.caption_justify = "left"
    return table


def sweep_table(
    results: list[dict], task: str, varied: list[str], headline: str | None = None
) -> Table:
    """One row per variant: its values, mean ± std over seeds per split, and how it went."""
    metrics = _shown_metrics(task, headline)
    table = Table(title="Sweep (mean ± std over seeds)")
    splits = list(results[0]["metrics"])
    for key in varied:
        table.add_column(short_key(key, varied))
    columns = [f"{s} loss" for s in splits] + [f"{splits[-1]} {m}" for m in metrics]
    for name in [*columns, "best epoch", "learned"]:
        table.add_column(name, justify="right")
    table.add_column("diverged (seed: epoch, step)")
    for r in results:
        one = len(r["seeds"]) == 1
        where = "; ".join(f"{d['seed']}: {d['epoch']}, {d['step']}" for d in r["diverged_at"])
        table.add_row(
            *(shown_value(r["values"][k]) for k in varied),
            *(_mean_std(r["metrics"][s]["loss"], single=one) for s in splits),
            *(_mean_std(r["metrics"][splits[-1]][m], single=one, metric=m) for m in metrics),
            _mean_std(r["best_epoch"], 1, single=one),
            f"{r['learned']}/{len(r['seeds'])}",
            f"{r['diverged']}/{len(r['seeds'])}" + (f" ({where})" if where else ""),
            style="bold" if _is_best(r) else None,
        )
    _baseline_row(table, results, splits, metrics, before=len(varied) - 1, after=3)
    labels = [", ".join(f"{short_key(k, varied)}={shown_value(r['values'][k])}" for k in varied)
              for r in results]  # fmt: skip
    table.caption = choice_caption(results, labels)
    table.caption_justify = "left"
    return table


def _is_best(record: dict) -> bool:
    return str(record.get("chosen") or "").startswith("best")


def _baseline_row(
    table: Table, results: list[dict], splits: list[str], metrics: list[str], *, before: int,
    after: int,
) -> None:  # fmt: skip
    """The input-blind model's scores under the metric columns: what every row must beat."""
    baseline = (results[0].get("baseline") or {}).get(splits[-1])
    if baseline is None:  # a summary written before baselines were recorded
        return
    cells = [format_value(baseline.get(m), m) for m in metrics]
    table.add_row(
        "baseline", *["-"] * before, *["-"] * len(splits), *cells, *["-"] * after, style="dim"
    )


def choice_caption(results: list[dict], labels: list[str]) -> str | None:
    """Which variant is best and on what (never test), and why any other was never a candidate."""
    lines = [
        f"{label}: {note}" if note.startswith("best") else f"{label} {note}"
        for label, r in zip(labels, results, strict=True)
        if (note := r.get("chosen"))
    ]
    if results and not any(_is_best(r) for r in results) and "chosen" in results[0]:
        lines.insert(0, "no best variant: none beat the baseline without diverging")
    return "\n".join(lines) or None


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
