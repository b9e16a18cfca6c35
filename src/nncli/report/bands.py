"""One variant's loss curves on an axis: the mean over its seeds with a min-max band, each seed's
best epoch (chosen on validation, as the run chose it) ringed, and each seed that diverged drawn
up to the epoch where its loss stopped being a number, cut there with an x.

`runs` are one variant's seeds, each `{"history": rows, "best_epoch": int, "diverged": epoch
or None}`; `split` is "train" or "val". `finish` fixes the scale of axes holding such curves
before their diverged seeds are drawn; `legend_keys` explains the ring and the x.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.report.plots import integer_ticks, log_axis, plain_number

RING = {"marker": "o", "markersize": 7, "markerfacecolor": "white", "markeredgewidth": 1.5}
CROSS = {"marker": "x", "markersize": 9, "markeredgewidth": 2}


def draw_mean(
    ax, runs: list[dict], split: str, colour: object, *, band: bool = True, **style: object
) -> bool:
    """The mean over the seeds that did not diverge, up to the shortest (early stopping ends
    seeds apart), with the min-max band and, past it, each longer seed thin; False when there
    is nothing finite to draw."""
    column = f"{split}_loss"
    histories = [r["history"] for r in runs if r["diverged"] is None and r["history"]]
    length = min((len(h) for h in histories), default=0)
    curves = np.array([[row[column] for row in h[:length]] for h in histories])  # (S, E)
    if not length or not np.isfinite(curves).any():
        return False
    epochs = [row["epoch"] for row in histories[0][:length]]
    ax.plot(epochs, curves.mean(axis=0), color=colour, **style)
    if not band:
        return True
    ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour, alpha=0.2)
    for tail in (h[length - 1 :] for h in histories if len(h) > length):
        ax.plot([row["epoch"] for row in tail], [row[column] for row in tail], color=colour,
                linewidth=0.7, alpha=0.7)  # fmt: skip
    return True


def draw_best(ax, runs: list[dict], split: str, colour: object) -> list[int]:
    """A ring at each seed's best epoch, on its own curve; the epochs ringed (none for a seed
    that diverged: it is never chosen)."""
    column, ringed = f"{split}_loss", []
    for run in runs:
        row = next((row for row in run["history"] if row["epoch"] == run["best_epoch"]), None)
        if run["diverged"] is None and row is not None and math.isfinite(row[column]):
            ax.plot(row["epoch"], row[column], linestyle="none", color=colour,
                    zorder=4, **RING)  # fmt: skip
            ringed.append(row["epoch"])
    return ringed


def best_note(epochs: list[int]) -> str:
    """`best: epoch 62`, or each seed's: `best: epochs 51, 66`."""
    ordered = sorted(epochs)
    if len(ordered) < 2:
        return "".join(f"best: epoch {e}" for e in ordered)
    return f"best: epochs {', '.join(map(str, ordered))}"


def draw_diverged(ax, runs: list[dict], split: str, colour: object) -> list[tuple]:
    """Each diverged seed's finite losses before it diverged, a thin line; the cuts to mark once
    the scale is set (`mark_cuts`): (epoch it diverged, its last finite epoch and loss)."""
    column, cuts = f"{split}_loss", []
    for run in (run for run in runs if run["diverged"] is not None):
        rows = [row for row in run["history"] if row["epoch"] < run["diverged"]]
        points = [(row["epoch"], row[column]) for row in rows if math.isfinite(row[column])]
        if points:
            ax.plot(*zip(*points, strict=True), color=colour, linewidth=1, marker=".")
        cuts.append((run["diverged"], *(points[-1] if points else (None, None))))
    return cuts


def mark_cuts(ax, cuts: list[tuple], colour: object) -> None:
    """Where each diverged seed's loss left the numbers: an x near the top edge at that epoch,
    dotted up from its last finite loss, and once the word `diverged` (with that loss, when it
    is off the chart). Drawn once the y limits are fixed: a loss of 1e30 sets no scale."""
    if not cuts:
        return
    low, high = ax.get_ylim()
    log = ax.get_yscale() == "log"
    top = low * (high / low) ** 0.94 if log else low + 0.94 * (high - low)
    for epoch, last_epoch, last in cuts:
        if last is not None:
            ax.plot([last_epoch, epoch], [last, top], ":", color=colour, linewidth=1)
        ax.plot(epoch, top, color=colour, linestyle="none", zorder=5, **CROSS)
    epoch, last_epoch, last = min(cuts, key=lambda cut: cut[0])
    note = "diverged"
    if last is not None and last > high:
        note += f"\n(loss {plain_number(last)} at epoch {last_epoch})"
    first, last_shown = ax.get_xlim()
    right = epoch > first + 0.6 * (last_shown - first)  # written to its left, inside the axes
    ax.annotate(note, (epoch, top), xytext=(-7 if right else 7, -2), textcoords="offset points",
                va="top", ha="right" if right else "left", fontsize=8, color=colour)  # fmt: skip


def legend_keys(groups: list[tuple[str, list[dict]]], splits: tuple) -> list:
    """Legend entries for the ring where a seed did not diverge, the x where one did."""
    from matplotlib.lines import Line2D

    one = all(len(runs) == 1 for _, runs in groups)
    best = f"best epoch{'' if one else ' of each seed'}\n(lowest {splits[-1]} loss)"
    lost = [run["diverged"] is not None for _, runs in groups for run in runs]
    keys = [] if all(lost) else [Line2D([], [], linestyle="none", markeredgecolor="black",
                                        label=best, **RING)]  # fmt: skip
    if any(lost):
        keys.append(Line2D([], [], linestyle="none", color="black", **CROSS,
                           label="diverged: the loss is\nno longer a number"))  # fmt: skip
    return keys


def finish(panels: list[tuple], split: str, drawn: bool) -> None:
    """Axes that share their y limits, each with its `(runs, colour)` variants: the log axis
    and the limits fixed from the finite curves, then the diverged seeds' curves and cuts on
    top. If no curve was `drawn`, the diverged seeds' losses are all there is to scale by."""
    cuts: dict[int, list] = {}
    if not drawn:
        for i, (ax, variants) in enumerate(panels):
            cuts[i] = [(draw_diverged(ax, runs, split, c), c) for runs, c in variants]
            ax.text(0.5, 0.5, "every model diverged", ha="center", transform=ax.transAxes)
    finite = drawn or any(cut[2] is not None for marks in cuts.values() for ms, _ in marks
                          for cut in ms)  # fmt: skip
    for i, (ax, variants) in enumerate(panels):
        if finite:  # a log axis needs something positive on it
            log_axis(ax)
        ax.set_ylim(*ax.get_ylim())  # fixed: the diverged seeds' losses set no scale
        if drawn:
            cuts[i] = [(draw_diverged(ax, runs, split, c), c) for runs, c in variants]
        for marks, colour in cuts[i]:
            mark_cuts(ax, marks, colour)
        ax.xaxis.set_major_locator(integer_ticks())
        ax.grid(alpha=0.3, which="both")
