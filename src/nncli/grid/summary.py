"""A grid's results summarized: each variant's metrics as mean and std over its seeds, the
time each stack took, and whether every model failed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nncli.grid.spec import Grid
from nncli.metrics import DETAILS, METRICS
from nncli.tasks import CLASSIFICATION
from nncli.train.choice import choose_best, margin


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


def not_learned(results: list[dict], labels: list[str], best: dict) -> str | None:
    """One line naming the variants with a seed that did not learn (`ModelFit.learned`), on the
    split and metric the grid chose on; None when every seed of every variant learned."""
    missed = [
        f"{label} {len(r['seeds']) - r['learned']}/{len(r['seeds'])} seeds"
        for label, r in zip(labels, results, strict=True)
        if r["learned"] < len(r["seeds"])
    ]
    if not missed:
        return None
    split, metric = best["split"], best["metric"]
    baselines = {(r.get("baseline") or {}).get(split, {}).get(metric) for r in results}
    (baseline,) = baselines if len(baselines) == 1 else (None,)
    than = "the input-blind baseline"
    if isinstance(baseline, int | float) and metric in METRICS:
        than += f" {baseline:.4f} by {margin(baseline, metric):.4f}"
    classes = metric in METRICS and METRICS[metric].task == CLASSIFICATION
    return (
        f"did not learn ({split} {metric} no better than {than}"
        f"{', or one class only' if classes else ''}): {'; '.join(missed)}"
    )


def _unless_diverged(model_fit, value: float) -> float | None:
    return None if model_fit.record.diverged is not None else value


def _diagnostics(group: list) -> dict[str, Any]:
    layers = len(group[0].record.grad_norms or [])

    def norms(layer: int) -> list:
        return [f.record.grad_norms[layer] for f in group]

    return {
        # What the notes on the units read (a comparison's own `activation` names its records).
        "hidden_activation": group[0].config.model.activation,
        "grad_norms": [mean_std(norms(layer))["mean"] for layer in range(layers)],
        # Each layer's over the output layer's, per seed, then the mean: grad_ratios[0] is
        # grad_ratio's mean.
        "grad_ratios": [
            mean_std([_ratios(f)[layer] for f in group])["mean"] for layer in range(layers)
        ],
        "grad_ratio": mean_std([f.grad_ratio for f in group]),
        "dead_fraction": mean_std([f.dead_fraction for f in group]),
        "saturated_fraction": mean_std([f.saturated_fraction for f in group]),
        "frozen_layers": [layer for layer in range(layers) if all(n == 0.0 for n in norms(layer))],
    }


def model_diagnostics(model_fit) -> dict[str, Any]:
    """One model's diagnostics as `nncli train` reports them (metrics.json's `diagnostics`):
    the layer sizes, each weight matrix's first-epoch gradient norm (input layer first) and its
    ratio to the output layer's, the dead and saturated fractions, the layers with none."""
    norms = model_fit.record.grad_norms or []
    return {
        "hidden_activation": model_fit.config.model.activation,
        "sizes": list(model_fit.card.sizes),
        "grad_norms": norms,
        "grad_ratios": _ratios(model_fit),
        "dead_fraction": model_fit.dead_fraction,
        "saturated_fraction": model_fit.saturated_fraction,
        "frozen_layers": [layer for layer, n in enumerate(norms) if n == 0.0],
    }


def _ratios(model_fit) -> list[float | None]:
    """Each layer's gradient norm over the output layer's (None where that is zero)."""
    norms = model_fit.record.grad_norms or []
    out = norms[-1] if norms else 0.0
    return [n / out if out else None for n in norms]


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
