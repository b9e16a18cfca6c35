"""A search's figures (`nncli tune`): each trial's validation loss with the best so far, against
each searched value, and how much each searched key mattered. Plain data in, PNG out, as the
other figures."""

from __future__ import annotations

from pathlib import Path

from nncli.report import plots  # its save_figure looked up at each call, as tests replace it
from nncli.report.plots import integer_ticks, log_axis, pyplot

GREY = "0.6"
SPREAD_FOR_LOG = 10  # losses spanning more than this factor are drawn on a log axis


def plot_optimization_history(
    path: Path, trials: list[tuple[int, str, float | None]], *, title: str
) -> None:
    """Each complete trial's validation loss by trial number, the best so far as a step line,
    and the pruned ones as grey crosses at the last loss they were scored at."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    complete = [(n, v) for n, state, v in trials if state == "COMPLETE" and v is not None]
    pruned = [(n, v) for n, state, v in trials if state == "PRUNED" and v is not None]
    if complete:
        numbers, values = zip(*complete, strict=True)
        ax.plot(numbers, values, "o", color="tab:blue", label="complete trial (val loss)")
        best, running = [], float("inf")
        for value in values:
            running = min(running, value)
            best.append(running)
        ax.step(numbers, best, where="post", color="tab:red", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned, strict=True), "x", color=GREY, label="pruned (its last val loss)")
    shown = [v for _, v in complete + pruned]
    if shown and max(shown) / max(min(shown), 1e-300) > SPREAD_FOR_LOG:
        log_axis(ax)
    unshown = {
        "diverged": sum(state == "PRUNED" and v is None for _, state, v in trials),
        "cut short or refused": sum(state == "FAIL" for _, state, _ in trials),
    }
    notes = [f"{n} {what}" for what, n in unshown.items() if n]
    ax.set_xlabel("trial" + (f" ({', '.join(notes)}: not shown)" if notes else ""))
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_ylabel("validation loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.suptitle(f"{title}: optimization history")
    plots.save_figure(fig, path)


def plot_loss_by_value(
    path: Path,
    keys: dict[str, bool],
    trials: list[tuple[dict, str, float | None]],
    *,
    best: dict,
    title: str,
) -> None:
    """A panel per searched key: each trial's validation loss against the value it drew
    (complete trials as dots, the best as a star, pruned ones as grey crosses at their last
    loss, diverged ones as red ticks along the top), on a log axis for a key searched on a
    log scale. `keys` maps each key to whether it was; `trials` holds (values, state, loss)."""
    plt = pyplot()
    columns = min(len(keys), 3)
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 0.6, 3.6 * rows + 0.6),
                             squeeze=False, sharey=True, layout="constrained")  # fmt: skip
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    losses = [v for _, state, v in trials if v is not None and state in ("COMPLETE", "PRUNED")]
    for ax, (key, log) in zip(axes.ravel(), keys.items(), strict=False):
        drawn = [(values[key], state, loss) for values, state, loss in trials if key in values]
        categories = sorted({str(x) for x, _, _ in drawn if not isinstance(x, int | float)})
        if categories:  # a choice of names: one place each
            place = {name: i for i, name in enumerate(categories)}
            drawn = [(place.get(str(x), x), state, loss) for x, state, loss in drawn]
            ax.set_xticks(range(len(categories)), categories)
        for state, marker, colour, label in (
            ("COMPLETE", "o", "tab:blue", "complete"),
            ("PRUNED", "x", GREY, "pruned (last val loss)"),
        ):
            points = [(x, v) for x, s, v in drawn if s == state and v is not None]
            if points:
                ax.plot(*zip(*points, strict=True), marker, color=colour, label=label)
        diverged = [x for x, s, v in drawn if s == "PRUNED" and v is None]
        if diverged:
            ax.plot(diverged, [0.97] * len(diverged), "|", color="tab:red", markersize=12,
                    transform=ax.get_xaxis_transform(), label="diverged")  # fmt: skip
        if key in best:
            chosen = place.get(str(best[key]), best[key]) if categories else best[key]
            ax.plot([chosen], [best["val_loss"]], "*", color="tab:red", markersize=14,
                    label="best (chosen on val)")  # fmt: skip
        if log and not categories:
            log_axis(ax, "x")
        ax.set_xlabel(key + (" (log scale)" if log and not categories else ""))
        ax.grid(alpha=0.3)  # major lines only: a log axis's minor ones would hide the points
    if losses and max(losses) / max(min(losses), 1e-300) > SPREAD_FOR_LOG:
        log_axis(axes[0][0])  # the panels share it
    for row in axes:
        row[0].set_ylabel("validation loss")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{title}: validation loss by searched value")
    plots.save_figure(fig, path)


def plot_importances(path: Path, importances: dict[str, float], *, title: str) -> None:
    """Each searched key's importance to the validation loss over the complete trials
    (Optuna's PED-ANOVA, normalized to sum to 1), largest on top."""
    plt = pyplot()
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.5 * len(items)), layout="constrained")
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, value) in enumerate(items):
        ax.annotate(
            f"{value:.2f}",
            (value, i),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("importance to the val loss (all keys sum to 1)")
    fig.suptitle(f"{title}: parameter importances")
    plots.save_figure(fig, path)
