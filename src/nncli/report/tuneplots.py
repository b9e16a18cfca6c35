"""A search's figures (`nncli tune`): each trial's validation loss with the best so far, and how
much each searched key mattered. Plain data in, PNG out, as the other figures."""

from __future__ import annotations

from pathlib import Path

from nncli.report import plots  # its save_figure looked up at each call, as tests replace it
from nncli.report.plots import integer_ticks, log_axis, pyplot


def plot_optimization_history(
    path: Path, trials: list[tuple[int, str, float | None]], *, title: str
) -> None:
    """Each complete trial's validation loss by trial number (pruned ones as grey crosses at
    the loss their kept weights scored), and the best so far as a step line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    complete = [(n, v) for n, state, v in trials if state == "COMPLETE" and v is not None]
    if complete:
        numbers, values = zip(*complete, strict=True)
        ax.plot(numbers, values, "o", color="tab:blue", label="trial (val loss)")
        best, running = [], float("inf")
        for value in values:
            running = min(running, value)
            best.append(running)
        ax.step(numbers, best, where="post", color="tab:red", label="best so far")
        if max(values) / max(min(values), 1e-300) > 100:
            log_axis(ax)
    pruned = [n for n, state, _ in trials if state == "PRUNED"]
    failed = [n for n, state, _ in trials if state == "FAIL"]
    notes = []
    if pruned:
        notes.append(f"{len(pruned)} pruned or diverged")
    if failed:
        notes.append(f"{len(failed)} cut short or refused")
    ax.set_xlabel("trial" + (f" ({', '.join(notes)}: not shown)" if notes else ""))
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_ylabel("validation loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.suptitle(f"{title}: optimization history")
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
