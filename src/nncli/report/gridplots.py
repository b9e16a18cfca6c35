"""Figures that compare the models of a sweep or comparison: loss bands, a metric against the
varied values, gradient norms by layer."""

from __future__ import annotations

from pathlib import Path

from nncli.report import plots


def plot_loss_bands(path: Path, groups: list[tuple[str, list[list[dict]]]], *, title: str) -> None:
    """Train and val loss by epoch: per group (label, seeds' histories) the mean over seeds,
    with a min-max band.

    A group without histories (the caller leaves out models that diverged: their last finite
    losses would set the scale at 1e30) keeps its legend entry, and draws nothing.
    """
    import numpy as np

    plt = plots.pyplot()
    first = next((h for _, runs in groups for h in runs if h), [])
    splits = ("train", "val") if first and "val_loss" in first[0] else ("train",)
    fig, axes = plt.subplots(
        1, len(splits), figsize=(6 * len(splits), 4.5), squeeze=False, layout="constrained"
    )
    colours = plt.get_cmap("tab10" if len(groups) <= 10 else "viridis")
    for ax, split in zip(axes[0], splits, strict=True):
        drawn = False
        for i, (label, runs) in enumerate(groups):
            colour = colours(i % 10) if len(groups) <= 10 else colours(i / (len(groups) - 1))
            runs = [h for h in runs if h]  # a model that diverged in its first epoch has none
            length = min((len(h) for h in runs), default=0)  # early stopping ends seeds apart
            curves = np.array([[row[f"{split}_loss"] for row in h[:length]] for h in runs])
            if not runs or not np.isfinite(curves).any():
                ax.plot([], [], color=colour, label=label)  # named in the legend all the same
                continue
            epochs = np.arange(1, length + 1)
            ax.plot(epochs, curves.mean(axis=0), color=colour, label=label)
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour, alpha=0.2)
            drawn = True
        if drawn:  # a log axis needs something positive on it
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "every model diverged", ha="center", transform=ax.transAxes)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plots.integer_ticks())
        ax.set_ylabel(f"{split} loss (log scale)")
        ax.set_title(f"{split} loss: mean over seeds, band = min to max")
        ax.grid(alpha=0.3, which="both")
    # One legend for both panels, beside them: it covers no curve.
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(title)
    plots.save_figure(fig, path)


def plot_grad_norms(path: Path, rows: list[tuple[str, list]], *, title: str) -> None:
    """Mean first-epoch weight-gradient norm per layer, input layer first, log scale.

    `rows` pairs a label with its per-layer norms (None where a model diverged).
    """
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    known = [g for _, norms in rows for g in norms if g is not None]
    floor = min((g for g in known if g > 0), default=1e-12) / 10
    for label, row in rows:
        norms = [float("nan") if g is None else g for g in row]
        layers = range(1, len(norms) + 1)
        ax.plot(layers, [max(g, floor) for g in norms], marker="o", label=label)
        zero = [layer for layer, g in zip(layers, norms, strict=True) if g == 0]
        if zero:
            ax.scatter(zero, [floor] * len(zero), marker="x", s=80, color="black", zorder=3)
    ax.axhline(floor, color="black", linewidth=0.5, linestyle=":")
    ax.text(1, floor, " x = exactly zero gradient", va="bottom", fontsize=8)
    ax.set_yscale("log")
    # Variants of a depth sweep have different numbers of layers: ticks for the deepest.
    ax.set_xticks(range(1, max(len(norms) for _, norms in rows) + 1))
    ax.set_xlabel("layer (1 = input layer, last = output layer)")
    ax.set_ylabel("weight-gradient norm, first-epoch mean")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title)
    plots.save_figure(fig, path)


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
    """A statistic over seeds against each varied key's values, one panel per key; a line per
    combination of the other keys. Values spanning decades get a log axis. `best`: the index of
    the record chosen on validation, drawn as a star; `baseline`: a dashed line, what a model
    that ignores its inputs scores.

    `stats` holds, per results record, its `{"mean", "std", "values"}` of the statistic (a
    metric of a split, the gradient ratio), or None. On a linear axis it is drawn as mean ± std;
    on a `log` one (quantities that span decades) as the mean and each seed's value, since
    mean - std may be below zero.
    """
    from nncli.config.keys import short_key, shown_value

    by_record = {id(r): s for r, s in zip(results, stats, strict=True)}

    def stat(record: dict) -> dict | None:
        return by_record[id(record)]

    plt = plots.pyplot()
    fig, axes = plt.subplots(
        1,
        len(varied),
        figsize=(5.5 * len(varied), 4.2),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, key in zip(axes[0], varied, strict=True):
        # Values as shown (lists and mappings are values too, and not hashable).
        shown = list(dict.fromkeys(shown_value(r["values"][key]) for r in results))
        first = {shown_value(r["values"][key]): r["values"][key] for r in reversed(results)}
        xs = [first[x] for x in shown]
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        others = [k for k in varied if k != key]
        lines: dict[str, list[dict]] = {}
        for r in results:
            rest = ", ".join(
                f"{short_key(k, varied)}={shown_value(r['values'][k])}" for k in others
            )
            lines.setdefault(rest, []).append(r)
        for rest, rows in lines.items():
            rows = [r for r in rows if (stat(r) or {}).get("mean") is not None]
            if not rows:
                continue
            position = [
                r["values"][key] if numeric else shown.index(shown_value(r["values"][key]))
                for r in rows
            ]
            means = [stat(r)["mean"] for r in rows]
            chosen = [i for i, r in enumerate(rows) if best is not None and r is results[best]]
            for i in chosen:
                ax.plot(position[i], means[i], marker="*", markersize=16, color="gold",
                        markeredgecolor="black", zorder=5, linestyle="none",
                        label="best (chosen on validation)")  # fmt: skip
            if not log:
                stds = [stat(r)["std"] for r in rows]
                ax.errorbar(position, means, yerr=stds, marker="o", capsize=3, label=rest or None)
                continue
            (line,) = ax.plot(position, means, marker="o", label=rest or None)
            seeds = [(x, v) for x, r in zip(position, rows, strict=True)
                     for v in stat(r)["values"] if v is not None and v > 0]  # fmt: skip
            ax.scatter(*zip(*seeds, strict=True), s=10, color=line.get_color(), alpha=0.4)
        if numeric and min(xs) > 0 and max(xs) / min(xs) >= 100:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(shown)), shown)
        diverged = [
            shown_value(r["values"][key]) for r in results if r["diverged"] == len(r["seeds"])
        ]
        if diverged:
            ax.set_title(
                f"all seeds diverged at {short_key(key, varied)} = "
                f"{', '.join(dict.fromkeys(diverged))}",
                fontsize=8,
            )
        if baseline is not None:
            ax.axhline(baseline, color="gray", linestyle="--", linewidth=1, label="baseline")
        ax.set_xlabel(key + (" (log scale)" if ax.get_xscale() == "log" else ""))
        if log:
            ax.set_yscale("log")
        if ax is axes[0][0]:  # the panels share it
            spread = "mean, dots: each seed; log scale" if log else "mean ± std over seeds"
            ax.set_ylabel(f"{ylabel}\n({spread})")
        ax.grid(alpha=0.3, which="both")
        if others or best is not None or baseline is not None:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    plots.save_figure(fig, path)
