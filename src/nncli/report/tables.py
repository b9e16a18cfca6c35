"""What the user sees in the terminal: progress, metric tables, confusion matrices."""

from __future__ import annotations

import errno
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nncli.config.keys import short_key, shown_value
from nncli.errors import UsageError, excerpts, printable
from nncli.metrics import METRICS, PER_CLASS, metric_names
from nncli.report.fit import Column, build_table, compact_mean_std, over_seeds


def safe(text: object) -> str:
    """Text from data, paths, folders or files as rich markup that shows it literally: its
    markup escaped (a label `[/]` or `[link=...]`) and its control characters visible
    (`errors.printable`). Every string a rich console or table parses goes through it."""
    return escape(printable(text))


class _Console(Console):
    """A closed output pipe (`nncli ... | head -1`) raises BrokenPipeError, which the CLI ends
    with 141 (and a training run stops resumably on), not rich's silent exit with 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more reaches the reader, whatever comes
        raise BrokenPipeError(errno.EPIPE, "the reader of the output left")


def make_console(*, stderr: bool = False) -> Console:
    """A console that wraps to the terminal, or writes long lines whole into files and pipes."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return _Console(stderr=stderr)
    return _Console(stderr=stderr, soft_wrap=True, width=200)


def format_value(value: float | None, metric: str = "") -> str:
    if value is None:
        spec = METRICS.get(metric)
        return "undefined" if spec is not None and spec.may_be_undefined else "-"
    # One mantissa width past 1e4, so a column never holds `3.44e+05` beside `3.031e+05`.
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.3e}"


def metric_label(metric: str, positive: object = None) -> str:
    """The name, its unit, and for two classes the class it scores: `f1 (Yes)`."""
    spec = METRICS.get(metric)
    if spec is not None and spec.unit:
        return f"{metric} ({spec.unit})"
    if spec is not None and spec.positive_class and positive is not None:
        return f"{metric} ({positive})"
    return metric


def metrics_table(
    metrics: dict[str, dict],
    task: str,
    *,
    title: str = "Metrics",
    positive: object = None,
    baseline: dict[str, dict] | None = None,
    headline: str | None = None,
) -> Table:
    """A metric a row, a split a column; `positive` names the class a binary task's
    positive-class metrics score; with `baseline` (split -> metric -> value), what a model that
    ignores its inputs scores on the last split beside them; `headline` in bold."""
    table = Table(title=safe(title))
    table.add_column("metric")
    for split in metrics:
        table.add_column(split, justify="right")
    blind = (baseline or {}).get(list(metrics)[-1]) if metrics else None
    if blind is not None:
        table.add_column(f"{list(metrics)[-1]} baseline", justify="right", style="dim")
    for metric in metric_names(task):
        label = metric_label(metric, positive)
        cells = [format_value(metrics[s].get(metric), metric) for s in metrics]
        if blind is not None:
            cells.append(format_value(blind.get(metric), metric))
        table.add_row(label, *cells, style="bold" if metric == headline else None)
    return table


def class_positions(order: list | None, classes: list | None) -> list[int]:
    """The indices of `classes` in `data.class_order` (every class once), or as they are."""
    if not order:
        return list(range(len(classes or [])))
    if not classes:
        raise UsageError("data.class_order: applies to classification only")
    names, wanted = [str(c) for c in classes], [str(c) for c in order]
    strangers, left_out = sorted(set(wanted) - set(names)), [n for n in names if n not in wanted]
    if strangers or left_out:
        problem = (f"{excerpts(strangers)} not a class" if strangers
                   else f"leaves out {excerpts(left_out)}")  # fmt: skip
        raise UsageError(f"data.class_order: {problem}; the classes are {excerpts(classes)}")
    return [names.index(n) for n in wanted]


def per_class_table(
    per_class: list[dict], classes: list, *, title: str, order: list | None = None
) -> Table:
    """Precision, recall, F1, specificity and support of each class, in `data.class_order`:
    what an average can hide (specificity is absent from runs measured before it was)."""
    table = Table(title=safe(title))
    table.add_column("class")
    for column in (*PER_CLASS, "support"):
        table.add_column(column, justify="right")
    for i in class_positions(order, classes):
        scores = per_class[i]
        table.add_row(
            safe(classes[i]),
            *(format_value(scores.get(m)) for m in PER_CLASS),
            str(scores["support"]),
        )
    return table


def confusion_table(
    matrix: list[list[int]], classes: list, *, title: str, order: list | None = None
) -> Table:
    """Rows true, columns predicted, both in `data.class_order`."""
    positions = class_positions(order, classes)
    table = Table(title=safe(title))
    table.add_column("true \\ predicted")
    for i in positions:
        table.add_column(safe(classes[i]), justify="right")
    for i in positions:
        table.add_row(safe(classes[i]), *(str(matrix[i][j]) for j in positions))
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
    stats: dict | None, digits: int | None = None, *, single: bool = False, metric: str = ""
) -> str:
    """`mean ± std` to `digits` decimals, or compact (`0.977 ± 0.005`) when None; the value
    alone when one seed gives no spread to speak of; a metric with no value is `undefined`
    where it may have no meaning (MAPE), else `-`."""
    if not stats or stats.get("mean") is None:
        return format_value(None, metric)
    if single:
        return format_value(stats["mean"]) if digits is None else f"{stats['mean']:.{digits}f}"
    if digits is None:
        return compact_mean_std(stats["mean"], stats.get("std"))
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def _score_columns(
    results: list[dict],
    task: str,
    positive: object,
    one: list[bool],
    kind: str | None,
    headline: str | None = None,
) -> list[Column]:
    """Each split's loss (labelled `weighted` or `standardized` where it is not the log_loss
    or mse a user would compute) and the last split's headline and next metric; at 80 columns
    the headline and the losses before the rest (report.html and --json have every metric)."""
    splits = list(results[0]["metrics"])
    names = metric_names(task)
    headline = headline if headline in names else names[0]
    others = [next(n for n in names if n != headline)]
    loss = "loss" + (f" ({kind})" if kind else "")
    losses = [
        Column(f"{s} {loss}", [_mean_std(r["metrics"][s]["loss"], single=o)
                               for r, o in zip(results, one, strict=True)],
               priority=2 if s == "val" else 3)  # the split choices are made on
        for s in splits
    ]  # fmt: skip
    scores = [
        Column(
            f"{splits[-1]} {metric_label(m, positive)}",
            [_mean_std(r["metrics"][splits[-1]][m], single=o, metric=m)
             for r, o in zip(results, one, strict=True)],
            priority=0 if m == headline else 4,
        )
        for m in [headline, *others]
    ]  # fmt: skip
    return losses + scores


def comparison_table(
    results: list[dict],
    task: str,
    *,
    positive: object = None,
    width: int | None = None,
    loss_kind: str | None = None,
    headline: str | None = None,
) -> Table:
    """One row per activation: mean ± std over seeds, and what the gradients did; in `width`
    characters, the columns that fit (all when None)."""
    one = [len(r["seeds"]) == 1 for r in results]
    learned, short = [], []
    for r in results:
        full = brief = f"{r['learned']}/{len(r['seeds'])}"
        if r["frozen_layers"]:  # narrow, still a word for what the lesson is about
            full += f" (layers {_ranges([i + 1 for i in r['frozen_layers']])}: zero gradient)"
            brief += " (zero gradient)"
        if r["diverged"]:
            full += f", {r['diverged']} diverged"
            brief += f", {r['diverged']} diverged"
        learned.append(full)
        short.append(brief)
    columns = [
        Column("activation", [r["activation"] for r in results], justify="left"),
        *_score_columns(results, task, positive, one, loss_kind, headline),
        Column("best epoch", [_mean_std(r["best_epoch"], 1, single=o)
                              for r, o in zip(results, one, strict=True)], priority=5),
        Column("grad first/out", [f"{r['grad_ratio']['mean']:.2e}"
                                  if r["grad_ratio"]["mean"] is not None else "-"
                                  for r in results], priority=6),
        Column("dead", [_mean_std(r["dead_fraction"], 2, single=o)
                        for r, o in zip(results, one, strict=True)], priority=7),
        Column("saturated", [_mean_std(r["saturated_fraction"], 2, single=o)
                             for r, o in zip(results, one, strict=True)], priority=7),
        Column("learned", learned, priority=1, justify="left", short=short),
    ]  # fmt: skip
    table = build_table(f"Activations compared ({over_seeds(all(one))})", columns, width)
    table.caption = choice_caption(results, [r["activation"] for r in results])
    table.caption_justify = "left"
    return table


def sweep_table(
    results: list[dict],
    task: str,
    varied: list[str],
    *,
    positive: object = None,
    width: int | None = None,
    loss_kind: str | None = None,
    headline: str | None = None,
) -> Table:
    """One row per variant: its values, mean ± std over seeds per split, and how it went; in
    `width` characters, the columns that fit (all when None)."""
    one = [len(r["seeds"]) == 1 for r in results]
    diverged, short = [], []
    for r in results:
        short.append(f"{r['diverged']}/{len(r['seeds'])}")
        where = "; ".join(f"{d['seed']}: {d['epoch']}, {d['step']}" for d in r["diverged_at"])
        diverged.append(short[-1] + (f" ({where})" if where else ""))
    columns = [
        *(Column(short_key(k, varied), [shown_value(r["values"][k]) for r in results],
                 justify="left") for k in varied),
        *_score_columns(results, task, positive, one, loss_kind, headline),
        Column("best epoch", [_mean_std(r["best_epoch"], 1, single=o)
                              for r, o in zip(results, one, strict=True)], priority=5),
        Column("learned", [f"{r['learned']}/{len(r['seeds'])}" for r in results], priority=1),
        Column("diverged (seed: epoch, step)", diverged, priority=1, justify="left",
               short=short),
    ]  # fmt: skip
    table = build_table(f"Sweep ({over_seeds(all(one))})", columns, width)
    labels = [", ".join(f"{short_key(k, varied)}={shown_value(r['values'][k])}" for k in varied)
              for r in results]  # fmt: skip
    table.caption = choice_caption(results, labels)
    table.caption_justify = "left"
    return table


def _is_best(record: dict) -> bool:
    return str(record.get("chosen") or "").startswith("best")


def choice_caption(results: list[dict], labels: list[str]) -> str | None:
    """Which variant is best and on what (never test), and why any other was never a candidate."""
    lines = [
        f"{label}: {note}" if note.startswith("best") else f"{label} {note}"
        for label, r in zip(labels, results, strict=True)
        if (note := r.get("chosen"))
    ]
    if results and not any(_is_best(r) for r in results) and "chosen" in results[0]:
        lines.insert(0, "no best variant: none beat the baseline without diverging")
    lines += _baseline_line(results)
    return "\n".join(lines) or None


def _baseline_line(results: list[dict]) -> list[str]:
    """What a model that ignores its inputs scores on the last split: what every row must beat
    (a summary written before baselines were recorded has none)."""
    baseline = results[0].get("baseline") if results else None
    if not isinstance(baseline, dict) or not baseline:
        return []
    split = list(baseline)[-1]
    scores = ", ".join(f"{m} {format_value(v, m)}" for m, v in list(baseline[split].items())[:3]
                       if isinstance(v, int | float))  # fmt: skip
    return [f"baseline (a model that ignores its inputs) on {split}: {scores}"] if scores else []


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
