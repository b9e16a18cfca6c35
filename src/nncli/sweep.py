"""Grids of models: config keys varied over values, times seeds, trained stack by stack.

A variant is one combination of `--vary` values; each trains with seeds `seed .. seed+N-1` on
one shared split. Models whose shapes and step schedule agree train as one stack (one batched
pass); the others form further stacks, trained one after another. A finished stack is saved in
`partial/`, so an interrupted grid resumes at the stack it was in, exactly where it stopped.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nncli.config import Config, configure, read_yaml_mapping
from nncli.errors import ConfigError, UsageError

MAX_SEEDS = 999
PARTIAL_DIR = "partial"  # finished stacks of an unfinished grid


@dataclass(frozen=True)
class GridModel:
    """One (variant, seed) of a grid."""

    variant: int
    seed: int
    config: Config  # what `nncli train` with the variant's values and this seed trains


@dataclass(frozen=True)
class Grid:
    base: Config  # the config file after --set
    varied: list[str]  # the --vary keys, in order
    items: list[str]  # the --vary arguments, as given (what a resume rebuilds the grid from)
    values: list[dict[str, Any]]  # per variant: key -> value, as the validated config holds it
    models: list[GridModel]  # variant-major, seeds inner
    stacks: list[list[int]]  # indices into `models`; each list trains as one stack

    def seeds(self, variant: int) -> list[int]:
        return [m.seed for m in self.models if m.variant == variant]

    def label(self, model: GridModel) -> str:
        """A file-name-safe name: `lr=0.1_width=8-seed0` (an activation names itself)."""
        parts = [
            str(value) if key == "model.activation" else f"{_short(key, self.varied)}={value}"
            for key, value in self.values[model.variant].items()
        ]
        name = "_".join(parts) or "model"
        return _safe(f"{name}-seed{model.seed}")


def split_values(text: str) -> list[str]:
    """`0.1,0.01` -> ['0.1', '0.01']; commas inside [...] or {...} belong to the value."""
    values, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    values.append(current.strip())
    return values


def build_grid(
    config_path: Path,
    overrides: list[str],
    vary: list[str],
    n_seeds: int,
    *,
    sequential: bool = False,
    require_vary: bool = True,
    flag: str = "--vary",
) -> Grid:
    """Every variant validated, every problem (of the file, --set, --vary, --seeds) at once.

    `flag` names the option the varied values came from in messages.
    """
    raw = read_yaml_mapping(Path(config_path))
    problems: list[str] = []
    keys, choices = _parse_vary(vary, problems, require_vary)
    if not 1 <= n_seeds <= MAX_SEEDS:
        problems.append(f"--seeds: must be between 1 and {MAX_SEEDS}, got {n_seeds}")
    base = _validated(raw, config_path, overrides, [], problems)
    variants: list[Config | None] = []
    for combination in itertools.product(*choices):
        items = [f"{key}={value}" for key, value in zip(keys, combination, strict=True)]
        variants.append(_validated(raw, config_path, overrides, items, problems))
    if problems:  # each problem once, in order
        raise ConfigError([p.replace("--vary", flag) for p in dict.fromkeys(problems)])
    assert base is not None
    configs = [v for v in variants if v is not None]
    _refuse_duplicates(configs, keys, list(itertools.product(*choices)), flag)
    values = [{key: _get(config, key) for key in keys} for config in configs]
    models = [
        GridModel(v, config.seed + i, _with_seed(config, config.seed + i))
        for v, config in enumerate(configs)
        for i in range(n_seeds)
    ]
    _refuse_same_models(models)
    return Grid(base, keys, list(vary), values, models, _stacks(models, sequential))


def _parse_vary(
    vary: list[str], problems: list[str], require: bool
) -> tuple[list[str], list[list[str]]]:
    keys: list[str] = []
    choices: list[list[str]] = []
    if require and not vary:
        problems.append("--vary: give at least one, e.g. --vary training.lr=0.1,0.01")
    for item in vary:
        key, sep, text = item.partition("=")
        key = key.strip()
        values = split_values(text) if sep else []
        if not sep or not key:
            problems.append(f"--vary {item!r}: expected KEY=V1,V2,..., e.g. training.lr=0.1,0.01")
        elif key in keys:
            problems.append(f"--vary {key}: given twice; list all its values in one --vary")
        elif not any(values) or "" in values:
            problems.append(f"--vary {key}: empty value in {text!r}; list values like 0.1,0.01")
        elif len(set(values)) != len(values):
            repeated = next(v for v in values if values.count(v) > 1)
            problems.append(f"--vary {key}: {repeated} is listed twice")
        else:
            keys.append(key)
            choices.append(values)
    return keys, choices


def _validated(raw, path, overrides, items, problems) -> Config | None:
    try:
        return configure(raw, Path(path), overrides, items)
    except ConfigError as exc:
        problems.extend(exc.problems)
    except UsageError as exc:
        problems.append(str(exc))
    return None


def _refuse_duplicates(
    configs: list[Config], keys: list[str], combinations: list, flag: str
) -> None:
    """Two values of a knob that make the same config (0.1 and 1e-1) would train one model twice."""
    seen: dict[str, tuple] = {}
    for config, combination in zip(configs, combinations, strict=True):
        dump = json.dumps(config.model_dump(mode="json"), sort_keys=True)
        if dump in seen:
            other = seen[dump]
            key, a, b = next(
                (k, x, y) for k, x, y in zip(keys, other, combination, strict=True) if x != y
            )
            raise UsageError(f"{flag} {key}: {a} and {b} are the same value; list it once")
        seen[dump] = combination


def _refuse_same_models(models: list[GridModel]) -> None:
    """Knobs that change nothing trainable (the run name, the output folder) make no sweep."""
    seen: set[str] = set()
    for model in models:
        dump = model.config.model_dump(mode="json")
        dump.pop("name"), dump.pop("output")
        key = json.dumps(dump, sort_keys=True)
        if key in seen:
            raise UsageError(
                "--vary: two variants train the same model (a knob that changes nothing, or"
                " a varied seed overlapping --seeds)"
            )
        seen.add(key)


def _stacks(models: list[GridModel], sequential: bool) -> list[list[int]]:
    """Group models that can share one batched pass, each group's activations contiguous."""
    from nncli.training import stack_key

    if sequential:
        return [[i] for i in range(len(models))]
    groups: dict[str, list[int]] = {}
    for i, model in enumerate(models):
        groups.setdefault(stack_key(model.config), []).append(i)
    stacks = []
    for members in groups.values():
        order = list(dict.fromkeys(models[i].config.model.activation for i in members))
        members.sort(key=lambda i: order.index(models[i].config.model.activation))
        stacks.append(members)
    return stacks


def _get(config: Config, key: str) -> Any:
    node: Any = config.model_dump(mode="json")
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _with_seed(config: Config, seed: int) -> Config:
    return config.model_copy(update={"seed": seed})


def _short(key: str, keys: list[str]) -> str:
    """The last part of a dotted key, unless another varied key ends the same."""
    last = key.rsplit(".", 1)[-1]
    return last if sum(k.rsplit(".", 1)[-1] == last for k in keys) == 1 else key


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "=._,-+" else "_" for c in name)[:200]


# --- training a grid ----------------------------------------------------------------------------


def data_key(config: Config) -> str:
    return json.dumps(config.data.model_dump(mode="json"), sort_keys=True)


def train_grid(
    grid: Grid,
    prepared: dict,
    folder,
    *,
    saved=None,
    diagnostics: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_stack: Callable[[int, list[GridModel], int], None] | None = None,
    on_epoch: Callable | None = None,
) -> list:
    """Train every stack of `grid` into `folder` (a RunFolder); one ModelFit per grid model.

    `prepared` maps `data_key(config)` to its PreparedData. `saved` resumes an interrupted grid:
    finished stacks are read back from `partial/`, the stack in progress continues from its
    state, and later ones train afresh.
    """
    import torch

    from nncli.diagnostics import input_blind_loss
    from nncli.training import measure_model, train_stack

    partial = folder.path / PARTIAL_DIR
    fits: list = [None] * len(grid.models)
    resume_stack = saved.info.get("stack", 0) if saved is not None else 0
    for s, members in enumerate(grid.stacks):
        configs = [grid.models[i].config for i in members]
        data = prepared[data_key(configs[0])]
        if on_stack is not None:
            on_stack(s, [grid.models[i] for i in members], len(grid.stacks))
        if s < resume_stack:
            nets, records = _load_stack(partial / f"stack-{s}.safetensors", configs, data)
            baseline = input_blind_loss(*data.tensors("train", torch.device("cpu")), data.task)
            done = [
                measure_model(c, data, net, record, baseline, diagnostics)
                for c, net, record in zip(configs, nets, records, strict=True)
            ]
        else:
            folder.info["stack"] = s
            resume = (
                (saved.state, saved.params) if saved is not None and s == resume_stack else None
            )
            done = train_stack(
                configs,
                data,
                diagnostics=diagnostics,
                on_epoch=on_epoch,
                should_stop=should_stop,
                on_checkpoint=folder.checkpoint,
                resume=resume,
            )
            if len(grid.stacks) > 1:
                partial.mkdir(exist_ok=True)
                _save_stack(partial / f"stack-{s}.safetensors", done)
        for i, model_fit in zip(members, done, strict=True):
            fits[i] = model_fit
    return fits


def _save_stack(path: Path, fits: list) -> None:
    from dataclasses import asdict

    from safetensors.torch import save

    from nncli.fileio import atomic_write_bytes

    tensors = {
        f"{k}.{name}": t.detach().contiguous()
        for k, f in enumerate(fits)
        for name, t in f.net.state_dict().items()
    }
    records = json.dumps([asdict(f.record) for f in fits])
    atomic_write_bytes(path, save(tensors, metadata={"records": records}))


def _load_stack(path: Path, configs: list[Config], data) -> tuple[list, list]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    from nncli.checkpoint import ModelCard, read_metadata
    from nncli.model import build_mlp
    from nncli.resume import record_from_json

    try:
        raw = path.read_bytes()
        tensors = load(raw)
        records = [record_from_json(r) for r in json.loads(read_metadata(raw)["records"])]
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
    return nets, records


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
        names = [m for m in group[0].metrics[splits[0]] if m != "confusion_matrix"]
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
            "best_epoch": mean_std([f.record.best_epoch for f in group]),
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


def all_failed(results: list[dict]) -> bool:
    return all(r["diverged"] == len(r["seeds"]) for r in results)
