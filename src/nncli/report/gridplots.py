"""Figures that compare the models of a sweep or comparison: loss bands, a metric against the
varied values, gradient norms by layer."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from nncli.report import bands, plots

# Up to this many variants share one panel per split; more get a small panel each.
OVERLAID = 4
GREY = "0.82"  # the other variants, behind a small panel's own
ZERO = {"marker": "v", "markersize": 9, "zorder": 5}  # a zero on a log axis, at its bottom edge


def plot_loss_bands(path: Path, groups: list[tuple[str, list[dict]]], *, title: str) -> None:
    """Loss by epoch per variant: the mean over its seeds with a min-max band, each seed's best
    epoch ringed, each seed that diverged cut with an x where it did (report/bands.py).

    `groups` pairs a variant's label with its seeds' runs (`{"history", "best_epoch",
    "diverged"}`). A few variants share a panel per split; more get a small panel each (val
    loss, train dashed), the others grey behind, since ten colours on one axis blur together.
    Losses of diverged seeds set no scale (their last finite ones may be 1e30).
    """
    plt = plots.pyplot()
    first = next((run["history"] for _, runs in groups for run in runs if run["history"]), [])
    splits = ("train", "val") if first and "val_loss" in first[0] else ("train",)
    colours = plots.class_colours(len(groups))
    one = all(len(runs) == 1 for _, runs in groups)
    spread = "" if one else ": mean over seeds, band = min to max"
    if len(groups) <= OVERLAID:
        fig = _overlaid(plt, groups, splits, colours, spread)
    else:
        fig = _small_multiples(plt, groups, splits, colours, spread)
    fig.suptitle(title)
    plots.save_figure(fig, path)


def _overlaid(plt, groups: list, splits: tuple, colours: list, spread: str):
    """One panel per split, every variant on it; one legend beside them (it covers no curve)."""
    fig, axes = plt.subplots(
        1, len(splits), figsize=(6 * len(splits), 4.5), squeeze=False, layout="constrained"
    )
    for ax, split in zip(axes[0], splits, strict=True):
        drawn = False
        for (label, runs), colour in zip(groups, colours, strict=True):
            ax.plot([], [], color=colour, label=label)  # named even when it draws nothing
            drawn |= bands.draw_mean(ax, runs, split, colour)
            bands.draw_best(ax, runs, split, colour)
        variants = [(runs, colour) for (_, runs), colour in zip(groups, colours, strict=True)]
        bands.finish([(ax, variants)], split, drawn)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{split} loss (log scale)")
        ax.set_title(f"{split} loss{spread}")
    handles = [*axes[0][0].get_legend_handles_labels()[0], *bands.legend_keys(groups, splits)]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    return fig


def _small_multiples(plt, groups: list, splits: tuple, colours: list, spread: str):
    """A small panel per variant, sharing both axes: its loss on the split chosen on (val,
    else train) as mean and band, train's mean dashed, the other variants' in grey behind."""
    from matplotlib.lines import Line2D

    chosen_on = splits[-1]
    rows, columns = plots.panel_grid(len(groups))
    fig, axes = plt.subplots(rows, columns, figsize=(2.9 * columns + 2.2, 2.3 * rows + 0.9),
                             sharex=True, sharey=True, squeeze=False,
                             layout="constrained")  # fmt: skip
    panels = axes.ravel()
    for ax in panels[len(groups) :]:
        ax.axis("off")
    drawn = False
    for i, (ax, (label, runs), colour) in enumerate(zip(panels, groups, colours, strict=False)):
        for j, (_, others) in enumerate(groups):
            if j != i:
                bands.draw_mean(ax, others, chosen_on, GREY, band=False, linewidth=0.8)
        drawn |= bands.draw_mean(ax, runs, chosen_on, colour, linewidth=1.6)
        if chosen_on != "train":
            bands.draw_mean(ax, runs, "train", colour, band=False, linestyle="--", linewidth=1)
        note = bands.best_note(bands.draw_best(ax, runs, chosen_on, colour))
        ax.set_title(f"{textwrap.fill(label, 34)}\n{note}", fontsize=8, color=colour)
    variants = [[(runs, colour)] for (_, runs), colour in zip(groups, colours, strict=True)]
    bands.finish(list(zip(panels, variants, strict=False)), chosen_on, drawn)
    if panels[0].get_yscale() == "log":  # the panels share it
        plots.few_log_ticks(panels[0])
    fig.supxlabel("epoch")
    fig.supylabel(f"{chosen_on} loss (log scale)")
    mean = ": mean" if spread else ""  # of several seeds
    style = [Line2D([], [], color="black", label=f"{chosen_on} loss{spread}".replace(", ", ",\n")),
             Line2D([], [], color="black", linestyle="--", linewidth=1, label=f"train loss{mean}"),
             Line2D([], [], color=GREY, label="the other variants")]  # fmt: skip
    if chosen_on == "train":
        del style[1]
    fig.legend(
        handles=[*style, *bands.legend_keys(groups, splits)], loc="outside right upper", fontsize=8
    )
    return fig


def plot_grad_norms(path: Path, rows: list[tuple[str, list]], *, title: str) -> None:
    """Mean first-epoch weight-gradient norm per layer, input layer first, log scale; a layer
    with no gradient at all (a step activation passes none) a triangle at the bottom edge, since
    zero is nowhere on a log axis, and the line broken there.

    `rows` pairs a label with its per-layer norms (None where a model diverged).
    """
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    with_zero = [label for label, row in rows if 0 in row]
    for (label, row), colour in zip(rows, plots.class_colours(len(rows)), strict=True):
        layers = list(range(1, len(row) + 1))
        ax.plot(layers, [g or math.nan for g in row], marker="o", color=colour, label=label)
        if label in with_zero:  # each variant's triangles a little aside of the others'
            aside = (with_zero.index(label) - (len(with_zero) - 1) / 2) * 0.3 / len(with_zero)
            _mark_zeros(ax, [n + aside for n, g in zip(layers, row, strict=True) if g == 0], colour)
    zeros = bool(with_zero)
    if any(g for _, row in rows for g in row):  # a log axis needs something positive on it
        plots.log_axis(ax)
        if zeros:
            _room_below(ax)
    # Variants of a depth sweep have different numbers of layers: ticks for the deepest.
    ax.set_xticks(range(1, max(len(norms) for _, norms in rows) + 1))
    ax.set_xlabel("layer (1 = input layer, last = output layer)")
    ax.set_ylabel("weight-gradient norm, first-epoch mean")
    ax.grid(alpha=0.3, which="both")
    handles = ax.get_legend_handles_labels()[0] + ([_zero_key()] if zeros else [])
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    ax.set_title(title)
    plots.save_figure(fig, path)


def _mark_zeros(ax, xs: list, colour: object) -> bool:
    """A triangle at the bottom edge, inside the axes, at each of `xs`: where a log axis has a
    zero it cannot draw. Whether there was one."""
    from matplotlib.transforms import blended_transform_factory

    if xs:
        bottom = blended_transform_factory(ax.transData, ax.transAxes)  # x data, y axes fraction
        ax.plot(xs, [0.03] * len(xs), transform=bottom, color=colour, linestyle="none", **ZERO)
    return bool(xs)


def _room_below(ax) -> None:
    """A log axis's bottom lowered by a tenth of its span: the zeros' triangles below every
    point."""
    low, high = ax.get_ylim()
    ax.set_ylim(low / (high / low) ** 0.1, high)


def _zero_key():
    from matplotlib.lines import Line2D

    return Line2D([], [], color="grey", linestyle="none", label="0 (no gradient)", **ZERO)


def plot_by_value(
    path: Path,
    results: list[dict],
    varied: list[str],
    *,
    stats: list[dict | None],
    ylabel: str,
    title: str,
    log: bool = False,
    best: int | None = None,
    baseline: float | None = None,
) -> None:
    """A statistic over seeds against each varied key's values, one panel per key; a series per
    combination of the other keys. Numbers are joined by a line (a log axis where they span
    decades); categories (activations) are points side by side, since nothing lies between two
    of them. `best`: the index of the record chosen on validation, drawn as a star; `baseline`:
    a dashed line, what a model that ignores its inputs scores.

    `stats` holds, per results record, its `{"mean", "std", "values"}` of the statistic (a
    metric of a split, the gradient ratio), or None. On a linear axis it is drawn as mean ± std;
    on a `log` one (the gradient ratio, which spans decades) as the mean and each seed's value,
    since mean - std may be below zero, and a zero (no gradient) as a triangle at the bottom.
    One seed is its value alone.
    """
    from nncli.config.keys import short_key, shown_value

    by_record = {id(r): s for r, s in zip(results, stats, strict=True)}
    one = all(len(r["seeds"]) == 1 for r in results)
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(varied), figsize=(5.5 * len(varied), 4.2), squeeze=False,
                             sharey=True, layout="constrained")  # fmt: skip
    zeros = False
    for ax, key in zip(axes[0], varied, strict=True):
        # Values as shown (lists and mappings are values too, and not hashable).
        shown = list(dict.fromkeys(shown_value(r["values"][key]) for r in results))
        first = {shown_value(r["values"][key]): r["values"][key] for r in reversed(results)}
        xs = [first[x] for x in shown]
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        others = [k for k in varied if k != key]
        lines: dict[str, list[dict]] = {}
        for r in results:
            rest = ", ".join(f"{short_key(k, varied)}={shown_value(r['values'][k])}"
                             for k in others)  # fmt: skip
            lines.setdefault(rest, []).append(r)
        for n, (rest, rows) in enumerate(lines.items()):
            rows = [r for r in rows if (by_record[id(r)] or {}).get("mean") is not None]
            if not rows:
                continue
            # Categories: each series a little aside of the others, so none hides another.
            aside = 0 if numeric else (n - (len(lines) - 1) / 2) * min(0.2, 0.6 / len(lines))
            position = [r["values"][key] if numeric else shown.index(shown_value(r["values"][key]))
                        + aside for r in rows]  # fmt: skip
            means = [by_record[id(r)]["mean"] for r in rows]
            chosen = [i for i, r in enumerate(rows) if best is not None and r is results[best]]
            for i in chosen:
                ax.plot(position[i], means[i], marker="*", markersize=16, color="gold",
                        markeredgecolor="black", zorder=6, linestyle="none",
                        label="best (chosen on validation)")  # fmt: skip
            style = {"marker": "o", "label": rest or None} | ({} if numeric else {"ls": "none"})
            if not log:
                stds = None if one else [by_record[id(r)]["std"] for r in rows]
                ax.errorbar(position, means, yerr=stds, capsize=3, **style)
                continue
            (line,) = ax.plot(position, [m if m > 0 else math.nan for m in means], **style)
            zero = [x for x, m in zip(position, means, strict=True) if m <= 0]
            zeros |= _mark_zeros(ax, zero, line.get_color())
            seeds = [(x, v) for x, r in zip(position, rows, strict=True)
                     for v in by_record[id(r)]["values"] if v is not None and v > 0]  # fmt: skip
            if seeds and not one:
                ax.scatter(*zip(*seeds, strict=True), s=10, color=line.get_color(), alpha=0.4)
        if numeric and min(xs) > 0 and max(xs) / min(xs) >= 100:
            plots.log_axis(ax, "x")
        if not numeric:
            crowded = sum(map(len, shown)) + 2 * len(shown) > 50
            ax.set_xticks(range(len(shown)), shown, rotation=30 if crowded else 0,
                          ha="right" if crowded else "center", rotation_mode="anchor")  # fmt: skip
        diverged = [
            shown_value(r["values"][key]) for r in results if r["diverged"] == len(r["seeds"])
        ]
        if diverged:
            ax.set_title(f"all seeds diverged at {short_key(key, varied)} = "
                         f"{', '.join(dict.fromkeys(diverged))}", fontsize=8)  # fmt: skip
        if baseline is not None:
            ax.axhline(baseline, color="gray", linestyle="--", linewidth=1, label="baseline")
        ax.set_xlabel(key + (" (log scale)" if ax.get_xscale() == "log" else ""))
        if log and any(m > 0 for m in (s["mean"] for s in stats if s) if m is not None):
            plots.log_axis(ax)
        if ax is axes[0][0]:  # the panels share it
            spread = (
                "one seed" if one else "mean, dots: each seed" if log else "mean ± std over seeds"
            )
            ax.set_ylabel(f"{ylabel}\n({spread}{'; log scale' if log else ''})")
        ax.grid(alpha=0.3, which="both")
        handles = ax.get_legend_handles_labels()[0] + ([_zero_key()] if zeros else [])
        if others or best is not None or baseline is not None or zeros:
            ax.legend(handles=handles, fontsize=8)
    if zeros and axes[0][0].get_yscale() == "log":
        _room_below(axes[0][0])  # the panels share it
    fig.suptitle(textwrap.fill(title, 55 * len(varied)))  # about ten characters an inch
    plots.save_figure(fig, path)
