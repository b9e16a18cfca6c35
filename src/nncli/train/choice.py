"""Which variant of a grid is best: chosen on the validation split (training where there is
none), never on test; a variant that diverged on a seed, or does not beat the input-blind
baseline by a margin, is never best. Plain records in, no torch: `nncli runs` chooses with it
too."""

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


# A model learned when it is better than the input-blind baseline by at least this share of the
# way from the baseline to a perfect score (1 for a score, 0 for an error or a loss): accuracy
# 0.55 over a 0.5 baseline, r2 0.1, an mse 10% below the training mean's. Real stalls land at the
# baseline itself (sigmoid 4 to 8 deep, GELU/SiLU/softplus and one ReLU seed 8 deep on moons:
# val accuracy 0.5000 = 0.5000) or in its noise (a perceptron on XOR: 0.28 to 0.70 on 60 rows),
# while networks that learned clear it by far (0.94 to 0.97). A margin, not a significance test:
# a perceptron's lucky 0.58 on 60 rows passes it, and scores 0.50 on test.
LEARNED_MARGIN = 0.1


def perfect(metric: str) -> float:
    """A perfect value of `metric`: every score of the registry tops out at 1 (accuracy, r2, f1,
    roc_auc...), every error and loss bottoms out at 0 (tests/test_choice.py checks each)."""
    return 1.0 if METRICS[metric].higher_is_better else 0.0


def margin(baseline: float, metric: str) -> float:
    """How much better than `baseline` a model must score on `metric` to have learned."""
    return LEARNED_MARGIN * abs(perfect(metric) - baseline)


def beats(value: float, baseline: float, metric: str) -> bool:
    """Whether `value` is better than `baseline` on `metric` by at least `margin` (and strictly:
    nothing beats a perfect baseline)."""
    need = margin(baseline, metric)
    if METRICS[metric].higher_is_better:
        return value > baseline and value >= baseline + need
    return value < baseline and value <= baseline - need


def shortfall(value: float, baseline: float, metric: str) -> str:
    """Why `value` does not beat `baseline`: `does not beat the baseline 0.5000`, or `beats the
    baseline 0.5000 by less than 0.0500` where it is better, but within the margin."""
    better = value > baseline if METRICS[metric].higher_is_better else value < baseline
    if not better:
        return f"does not beat the baseline {baseline:.4f}"
    return f"beats the baseline {baseline:.4f} by less than {margin(baseline, metric):.4f}"


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
                    f"not chosen: {split} {metric} {value:.4f} {shortfall(value, baseline, metric)}"
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
