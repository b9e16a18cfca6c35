"""Which variant of a grid is best: chosen on the validation split (training where there is
none), never on test; a variant that diverged on a seed, or does not beat the input-blind
baseline, is never best. Plain records in, no torch: `nncli runs` chooses with it too."""

from __future__ import annotations

from nncli.errors import UsageError, excerpt
from nncli.metrics import METRICS, headline_metric


def choice_split(splits) -> str:
    """The split choices read: validation, or training where there is none."""
    return "val" if "val" in splits else "train"


def headline_of(name: str | None, task: str) -> str:
    """`training.headline_metric` for data of `task`, or the task's default."""
    if name is None:
        return headline_metric(task)
    if METRICS[name].task != task:
        raise UsageError(
            f"training.headline_metric: {excerpt(name)} is a {METRICS[name].task} metric and"
            f" this data is {task}; e.g. {headline_metric(task)}"
        )
    return name


def beats(value: float, baseline: float, metric: str) -> bool:
    """Whether `value` is strictly better than `baseline` on `metric`."""
    return value > baseline if METRICS[metric].higher_is_better else value < baseline


def choose_best(results: list[dict], metric: str) -> dict:
    """The best of a grid's summary records (`grid/summary.py`) on `metric`'s mean over seeds.

    Returns `{"index", "split", "metric", "value", "notes"}`: `index` of the best record (None
    when none may be), the split and metric it was chosen on, its value, and one note a record,
    saying why it is best or why it was never a candidate (None for a candidate that lost).
    """
    splits = results[0].get("metrics", {}) if results else {}
    split = choice_split(splits)
    higher = METRICS[metric].higher_is_better if metric in METRICS else False  # a loss
    notes: list[str | None] = []
    candidates = []
    for i, record in enumerate(results):
        diverged = [d.get("seed") for d in record.get("diverged_at", [])]
        stats = record.get("metrics", {}).get(split, {}).get(metric) or {}
        value = stats.get("mean") if isinstance(stats, dict) else None
        baseline = (record.get("baseline") or {}).get(split, {}).get(metric)
        if diverged:
            seeds = ", ".join(map(str, diverged))
            notes.append(f"not chosen: diverged on seed {seeds}")
        elif not isinstance(value, int | float):
            notes.append(f"not chosen: no {split} {metric}")
        elif isinstance(baseline, int | float) and metric in METRICS:
            if beats(value, baseline, metric):
                notes.append(None)
                candidates.append(i)
            else:
                notes.append(
                    f"not chosen: {split} {metric} {value:.4f} does not beat the baseline"
                    f" {baseline:.4f}"
                )
        else:  # a summary written before baselines were recorded
            notes.append(None)
            candidates.append(i)
    if not candidates:
        return {"index": None, "split": split, "metric": metric, "value": None, "notes": notes}

    def mean(i: int) -> float:
        return results[i]["metrics"][split][metric]["mean"]

    best = max(candidates, key=mean) if higher else min(candidates, key=mean)
    notes[best] = f"best on {split} {metric}"
    return {"index": best, "split": split, "metric": metric, "value": mean(best), "notes": notes}
