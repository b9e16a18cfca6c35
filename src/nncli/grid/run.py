"""Training a grid stack by stack, and summarizing each variant over its seeds.

A finished stack is saved in `partial/`, so an interrupted grid resumes at the stack it was in,
exactly where it stopped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nncli.config.schema import Config
from nncli.errors import UsageError
from nncli.grid.spec import Grid, data_key
from nncli.metrics import DETAILS

PARTIAL_DIR = "partial"  # finished stacks of an unfinished grid


def train_grid(
    grid: Grid,
    prepared: dict,
    folder,
    *,
    saved=None,
    diagnostics: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_stack: Callable[[int, int], None] | None = None,
    on_epoch: Callable | None = None,
    group=None,
) -> list:
    """Train every stack of `grid` into `folder` (a RunFolder); one ModelFit per grid model.

    `prepared` maps `data_key(config)` to its PreparedData. `saved` resumes an interrupted grid:
    finished stacks are read back from `partial/`, the stack in progress continues from its
    state, and later ones train afresh. With `group` (a `distributed.DataParallel`), every rank
    of a launch trains each stack data-parallel, and only the leader gets the fits.
    """
    from nncli.runs.state import check_state_fits
    from nncli.train.stack import train_stack, whole_batch

    fits: list = [None] * len(grid.models)
    resume_stack = saved.info.get("stack", 0) if saved is not None else 0
    for s, members in enumerate(grid.stacks):
        configs = [grid.models[i].config for i in members]
        data = prepared[data_key(configs[0])]
        if on_stack is not None:
            on_stack(s, len(grid.stacks))
        if s < resume_stack:
            path = folder.path / PARTIAL_DIR / f"stack-{s}.safetensors"
            done = measure_saved(path, configs, data, diagnostics)
        else:
            folder.info |= {"stack": s, "stacks": len(grid.stacks)}
            resume = None
            if saved is not None and s == resume_stack:
                check_state_fits(
                    folder.last_state,
                    saved.state,
                    n_models=len(configs),
                    n_train=len(data.raw["train"][1]),
                    batch_size=whole_batch(configs[0], group),
                )
                resume = (saved.state, saved.params)
            start = time.perf_counter()
            done = train_stack(
                configs,
                data,
                diagnostics=diagnostics,
                on_epoch=on_epoch,
                should_stop=should_stop,
                on_checkpoint=folder.checkpoint,
                resume=resume,
                group=group,
            )
            if not done:  # a rank of a launch other than the leader
                return []
            seconds = None if resume is not None else time.perf_counter() - start
            for model_fit in done:
                model_fit.stack_seconds = seconds
            if len(grid.stacks) > 1:
                (folder.path / PARTIAL_DIR).mkdir(exist_ok=True)
                save_models(folder.path / PARTIAL_DIR / f"stack-{s}.safetensors", done)
        for i, model_fit in zip(members, done, strict=True):
            fits[i] = model_fit
    return fits


def measure_saved(path: Path, configs: list[Config], data, diagnostics: bool) -> list:
    """The models `save_models` kept for `configs`, measured as `train_stack` measures them."""
    import torch

    from nncli.model.diagnostics import input_blind_loss
    from nncli.train.stack import class_weights, measure_model

    nets, records, seconds = load_models(path, configs, data)
    weight = class_weights(configs[0], data)
    baseline = input_blind_loss(*data.tensors("train", torch.device("cpu")), data.task, weight)
    fits = [
        measure_model(c, data, net, record, baseline, diagnostics)
        for c, net, record in zip(configs, nets, records, strict=True)
    ]
    for model_fit in fits:
        model_fit.stack_seconds = seconds
    return fits


def save_models(path: Path, fits: list) -> None:
    """Trained models of one stack (or part of one), with their records and training time."""
    from dataclasses import asdict

    from safetensors.torch import save

    from nncli.fileio import atomic_write_bytes

    tensors = {
        f"{k}.{name}": t.detach().contiguous()
        for k, f in enumerate(fits)
        for name, t in f.net.state_dict().items()
    }
    records = json.dumps([asdict(f.record) for f in fits])
    seconds = json.dumps(fits[0].stack_seconds)
    atomic_write_bytes(path, save(tensors, metadata={"records": records, "seconds": seconds}))


def load_models(path: Path, configs: list[Config], data) -> tuple[list, list, float | None]:
    """`save_models`' file back: the models of `configs`, their records and training time."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from nncli.model.mlp import build_mlp
    from nncli.runs.checkpoint import ModelCard, read_metadata
    from nncli.runs.state import record_from_json

    try:
        raw = path.read_bytes()
        tensors = load(raw)
        metadata = read_metadata(raw)
        records = [record_from_json(r) for r in json.loads(metadata["records"])]
        seconds = json.loads(metadata.get("seconds", "null"))
        nets = []
        for k, config in enumerate(configs):
            card = ModelCard.describe(config, data)
            net = build_mlp(card.sizes, config.model.activation)
            prefix = f"{k}."
            net.load_state_dict(
                {n[len(prefix) :]: t for n, t in tensors.items() if n.startswith(prefix)}
            )
            nets.append(net)
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise UsageError(f"{path}: cannot read a finished stack back: {exc}") from None
    return nets, records, seconds


# --- summaries ----------------------------------------------------------------------------------


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
