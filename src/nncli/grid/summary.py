"""A grid's results summarized: each variant's metrics as mean and std over its seeds, the
time each stack took, and whether every model failed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nncli.grid.spec import Grid
from nncli.metrics import DETAILS
from nncli.train.choice import choose_best


def mean_std(values: list) -> dict[str, Any]:
    """Mean and sample std over the finite values; `values` keeps every seed's, None included."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    shown = [v if v is None or math.isfinite(v) else None for v in values]
    if not present:
        return {"mean": None, "std": None, "values": shown}
    std = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
    return {"mean": float(np.mean(present)), "std": std, "values": shown}


def summarize(grid: Grid, fits: list, *, diagnostics: bool) -> list[dict]:
    """One record per variant, over its seeds."""
    records = []
    for v, values in enumerate(grid.values):
        group = [f for m, f in zip(grid.models, fits, strict=True) if m.variant == v]
        splits = list(group[0].metrics)
        names = [m for m in group[0].metrics[splits[0]] if m not in DETAILS]
        record: dict[str, Any] = {
            "values": values,
            "seeds": grid.seeds(v),
            "metrics": {
                split: {
                    "loss": mean_std([f.losses.get(split) for f in group]),
                    **{m: mean_std([f.metrics[split][m] for f in group]) for m in names},
                }
                for split in splits
            },
            # A diverged model has no best epoch to speak of: None, left out of mean and std.
            "best_epoch": mean_std([_unless_diverged(f, f.record.best_epoch) for f in group]),
            "epochs_run": mean_std([f.record.epochs_run for f in group]),
            "learned": sum(f.learned for f in group),
            # The same data for every seed: the first model's input-blind scores are theirs.
            "baseline": group[0].baseline,
            "diverged": sum(f.record.diverged is not None for f in group),
            "diverged_at": [
                {"seed": f.config.seed, "epoch": f.record.diverged[0], "step": f.record.diverged[1]}
                for f in group
                if f.record.diverged is not None
            ],
        }
        if diagnostics:
            record |= _diagnostics(group)
        records.append(record)
    return records


def choose(results: list[dict], fits: list) -> dict:
    """The grid's best variant, chosen on validation (`train/choice.py`), as summary.json and
    --json record it: each record's `chosen` note, and the choice itself."""
    from nncli.config.keys import variant_label

    choice = choose_best(results, fits[0].headline)
    for record, note in zip(results, choice["notes"], strict=True):
        record["chosen"] = note
    best = choice["index"]
    return {
        "variant": None if best is None else variant_label(results[best]["values"]),
        "split": choice["split"],
        "metric": choice["metric"],
        "value": choice["value"],
        **({"reason": "no variant beat the baseline without diverging"} if best is None else {}),
    }


def _unless_diverged(model_fit, value: float) -> float | None:
    return None if model_fit.record.diverged is not None else value


def _diagnostics(group: list) -> dict[str, Any]:
    layers = len(group[0].record.grad_norms or [])

    def norms(layer: int) -> list:
        return [f.record.grad_norms[layer] for f in group]

    return {
        "grad_norms": [mean_std(norms(layer))["mean"] for layer in range(layers)],
        "grad_ratio": mean_std([f.grad_ratio for f in group]),
        "dead_fraction": mean_std([f.dead_fraction for f in group]),
        "saturated_fraction": mean_std([f.saturated_fraction for f in group]),
        "frozen_layers": [layer for layer in range(layers) if all(n == 0.0 for n in norms(layer))],
    }


def stack_times(grid: Grid, fits: list) -> list[dict]:
    """Each stack in training order: the varied values its models share (what sets it apart from
    the other stacks), its model count and its training seconds."""
    found = []
    for stack in grid.stacks:
        values = [grid.values[grid.models[i].variant] for i in stack]
        shared = {key: value for key, value in values[0].items()
                  if all(other[key] == value for other in values)}  # fmt: skip
        times = [fits[i].stack_seconds for i in stack]  # its parts may train apart: the longest
        seconds = None if None in times else max(times)
        found.append({"values": shared, "models": len(stack), "seconds": seconds})
    return found


def all_failed(results: list[dict]) -> bool:
    return all(r["diverged"] == len(r["seeds"]) for r in results)
