"""What the user sees in the terminal: progress, metric tables, confusion matrices."""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nncli.grid.spec import short_key, shown_value
from nncli.metrics import METRICS, metric_names

if TYPE_CHECKING:
    from nncli.config.schema import Config
    from nncli.data.prepared import PreparedData
    from nncli.grid.spec import Grid


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
    table = Table(title=title)
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
            *(_mean_std(r["metrics"][splits[-1]][m], single=one, metric=m) for m in metrics),
            _mean_std(r["best_epoch"], 1, single=one),
            f"{ratio['mean']:.2e}" if ratio["mean"] is not None else "-",
            _mean_std(r["dead_fraction"], 2, single=one),
            _mean_std(r["saturated_fraction"], 2, single=one),
            learned,
        )
    return table


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
    batch_shown = f"{batch} ({clamped}{shared}{_count(steps, 'step')} per epoch)"

    def shown(key: str, value: object) -> str:
        return "varied" if key in varied else str(value)

    features = _count(prepared.n_features, "feature")
    if prepared.encoder.categorical:
        features = (
            f"{len(dataset.feature_names)} feature columns → {prepared.n_features} inputs"
            f" (one-hot: {prepared.encoder.describe()})"
        )
    notes = "".join(f"\n[yellow]note:[/] {escape(note)}" for note in prepared.notes)
    activation = "" if "model.activation" in varied else f", {config.model.activation}"
    network, parameters = " → ".join(map(str, sizes)), f", {n_params} parameters"
    if {"model.width", "model.depth"} & set(varied):
        network, parameters = f"{sizes[0]} → hidden layers varied → {sizes[-1]}", ""
    return (
        f"[bold]{config.name}[/]: {len(dataset.y)} rows, {escape(features)},"
        f" {what}; split {kinds} {counts} (data.seed {config.data.seed}){notes}\n"
        f"MLP {network}{activation}{parameters};"
        f" SGD lr {shown('training.lr', f'{t.lr:g}')},"
        f" momentum {shown('training.momentum', f'{t.momentum:g}')},"
        f" batch {shown('training.batch_size', batch_shown)},"
        f" {shown('training.epochs', t.epochs)} epochs, seed {config.seed}; on {device}"
    )


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
            f" {_count(len(sizes), 'stack')} (two models or more each) on its own;"
            " progress shows rank 0's"
        )
    lines.append(
        f"{_count(n_variants, 'variant')} x {_count(len(seeds), 'seed')}"
        f" ({', '.join(map(str, seeds))}) = {_count(len(grid.models), 'model')}, trained {how}"
    )
    if "model.activation" in grid.varied and all(m.config.model.depth == 0 for m in grid.models):
        lines.append(
            "[yellow]note:[/] model.depth is 0: with no hidden layer the activation is never"
            " used, so every activation gives the same model"
        )
    return "\n".join(lines)


def describe_times(stacks: list[dict], processes: int = 1) -> str:
    """How long training took: each stack's seconds, named by the values its models share when
    there are several stacks; split across `processes`, the slowest part's."""
    from nncli.grid.spec import variant_label

    def seconds(stack: dict) -> str:
        if stack["seconds"] is None:
            return "time not known (resumed)"
        return f"{stack['seconds']:.{1 if stack['seconds'] >= 1 else 2}f} s"

    if len(stacks) == 1:
        (stack,) = stacks
        how = "in one pass" if processes == 1 else f"split across {processes} processes"
        return f"training took {seconds(stack)} ({_count(stack['models'], 'model')} {how})"
    parts = [
        f"{variant_label(stack['values']) if stack['values'] else f'stack {i}'}: {seconds(stack)}"
        for i, stack in enumerate(stacks, start=1)
    ]
    return f"training took, stack by stack: {'; '.join(parts)}"


def describe_outcome(config: Config, summary: dict) -> str:
    """Which weights a trained model kept, and why."""
    monitor = summary["monitor"]
    if config.training.early_stopping is not None:
        stopped = summary["epochs_run"] < config.training.epochs
        how = f"stopped early at epoch {summary['epochs_run']}" if stopped else "ran every epoch"
        return (
            f"early stopping on {monitor} {how}; restored the best weights,"
            f" from epoch {summary['kept_epoch']}"
        )
    return (
        f"kept the final weights (epoch {summary['kept_epoch']}); lowest {monitor} was at"
        f" epoch {summary['best_epoch']}"
    )


def sweep_table(results: list[dict], task: str, varied: list[str]) -> Table:
    """One row per variant: its values, mean ± std over seeds per split, and how it went."""
    metrics = metric_names(task)[:2]  # the headline and the next: the table is wide already
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
        )
    return table


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def runs_table(records: list[dict], directory: object, sort: str | None, *, width: int) -> Table:
    """`nncli runs`: one row per run folder, in `width` columns (80 on a common terminal).

    The run name (what `evaluate` takes) is never cut. Under it, indented, come the settings that
    differ from the other runs on the same data (a sweep's best variant first), wrapped, and the
    columns that do not fit beside a long name: epochs first, then data, then status, then the
    result. The creation time and the task are left to `--json`: default names carry the time,
    and the metric says the task.
    """
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from nncli.runs.layout import shown_settings

    results = [_result(r, sort) for r in records]
    labels = {label for label, _ in results}
    uniform = len(labels) == 1 and "" not in labels
    header = next(iter(labels)) if uniform else "result"
    # Mixed metrics (a regression among classifications) name theirs on a line above the value.
    shown = [value if uniform else f"{label}\n{value}".strip() for label, value in results]
    columns = {  # header: cells, in the order they give way to a long name (last first)
        "status": [r["status"] or "-" for r in records],
        "data": [r["source"] or "-" for r in records],
        "epochs": [str(r["epochs_run"] or "-") for r in records],
        header: shown,
    }
    # Headers may wrap at spaces (`test` over `accuracy`); cells keep their lines.
    widths = {
        key: max(len(line) for c in [*key.split(), *cells] for line in c.split("\n"))
        for key, cells in columns.items()
    }
    name_width = max((len(r["run"]) for r in records), default=3)
    kept = list(columns)
    while kept and name_width + sum(widths[k] + GAP for k in kept) > width:
        kept.remove(kept[-2] if len(kept) > 1 else kept[-1])  # the result goes last
    if header in kept:  # room to spare: the header on one line
        spare = width - name_width - sum(widths[k] + GAP for k in kept)
        widths[header] = min(max(widths[header], len(header)), widths[header] + spare)

    def moved(key: str, i: int) -> str:
        """A cell of a column that gave way, as the line under the name shows it."""
        if key == header:
            return " ".join(filter(None, results[i]))
        return f"{columns[key][i]} epochs" if key == "epochs" else columns[key][i]

    grids = ("sweep", "compare")  # their `activation` says which variant was best
    details = []
    for i, (r, differs) in enumerate(zip(records, shown_settings(records), strict=True)):
        gone = [moved(k, i) for k in columns if k not in kept and columns[k][i] != "-"]
        grid = r["activation"] if r["kind"] in grids else ""
        details.append("; ".join(filter(None, [", ".join(gone), grid, differs])))
    table = Table(
        title=f"Runs in {directory}",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        width=name_width if name_width > width else None,  # wider than the terminal: it wraps
    )
    room = width - sum(widths[k] + GAP for k in kept)  # the names', and the details' under them
    widest = max([name_width, *(len(d) + 2 for d in details)])
    table.add_column("run", width=max(name_width, min(room, widest)))
    for key in kept:
        justify = "left" if key in ("status", "data") else "right"
        table.add_column(key, width=widths[key], justify=justify)
    for i, r in enumerate(records):
        name = Text(r["run"], no_wrap=True, overflow="ignore")
        under = Padding(Text(details[i], style="dim"), (0, 0, 0, 2))
        table.add_row(Group(name, under) if details[i] else name, *(columns[k][i] for k in kept))
    return table


GAP = 2  # characters between two columns of the runs table


def _result(record: dict, sort: str | None) -> tuple[str, str]:
    """A run's sorted-by (or headline) metric: its label (`test accuracy`) and value."""
    metric = sort or record["headline"]
    if not metric or not record["split"]:
        return "", "-"
    return f"{record['split']} {metric}", format_value(record["metrics"].get(metric), metric)


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
