"""Grids of models: config keys varied over values, times seeds, validated and grouped.

A variant is one combination of `--vary` values; each trains with seeds `seed .. seed+N-1` on
one shared split. Models whose shapes and step schedule agree form one stack (one batched pass).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nncli.config.data import looks_like_path
from nncli.config.keys import short_key, shown_value, split_values, stack_key
from nncli.config.loading import configure, parse_override, read_yaml_mapping
from nncli.config.schema import Config
from nncli.errors import ConfigError, UsageError

MAX_SEEDS = 999
# The most models (variants x seeds) a grid makes unless --max-models says more, checked on the
# value counts before any variant is made. Each variant takes about 1 ms to validate and 7 KiB
# to hold (a seed 0.3 ms, 2 KiB): such a grid is ready in about 10 s (docs/commands.md).
MAX_MODELS = 10_000


@dataclass(frozen=True)
class GridModel:
    """One (variant, seed) of a grid."""

    variant: int
    seed: int
    config: Config  # what `nncli train` with the variant's values and this seed trains


@dataclass(frozen=True)
class GridSpec:
    """What a grid is built from; a sweep folder keeps it, so --resume rebuilds the same grid."""

    raw: dict[str, Any]  # the config file's mapping, as read
    config_path: str  # absolute: CSV paths in the file are relative to it, and it names the run
    overrides: list[str]  # --set
    vary: list[str]  # --vary, with relative data paths made absolute
    n_seeds: int
    sequential: bool = False
    max_models: int = MAX_MODELS  # the bound it was started under: its resume keeps it


@dataclass(frozen=True)
class Grid:
    spec: GridSpec
    base: Config  # the config file after --set
    varied: list[str]  # the --vary keys, in order
    values: list[dict[str, Any]]  # per variant: key -> value, as the validated config holds it
    models: list[GridModel]  # variant-major, seeds inner
    labels: list[str]  # per model: a unique, file-name-safe name such as `lr=0.1_relu-seed0`
    stacks: list[list[int]]  # indices into `models`; each list trains as one stack

    def seeds(self, variant: int) -> list[int]:
        n = self.spec.n_seeds  # variant-major: a variant's models are n in a row
        return [m.seed for m in self.models[variant * n : (variant + 1) * n]]

    def label(self, model: GridModel) -> str:
        first = model.variant * self.spec.n_seeds  # its variant's first model, seeds in order
        return self.labels[first + model.seed - self.models[first].seed]


def build_grid(
    config_path: Path,
    overrides: list[str],
    vary: list[str],
    n_seeds: int,
    *,
    sequential: bool = False,
    require_vary: bool = True,
    flag: str = "--vary",
    max_models: int = MAX_MODELS,
) -> Grid:
    """Every variant validated, every problem (of the file, --set, --vary, --seeds) at once.

    `flag` names the option the varied values came from in messages. A grid of more than
    `max_models` models (variants x seeds) is refused before any variant is made.
    """
    path = Path(config_path).resolve()
    vary = [_absolute_data_paths(item) for item in vary]
    raw = read_yaml_mapping(Path(config_path))
    spec = GridSpec(raw, str(path), list(overrides), vary, n_seeds, sequential, max_models)
    return grid_from_spec(spec, require_vary=require_vary, flag=flag)


def grid_from_spec(spec: GridSpec, *, require_vary: bool = True, flag: str = "--vary") -> Grid:
    """The grid a spec describes (see `build_grid`)."""
    path = Path(spec.config_path)
    problems: list[str] = []
    keys, choices = _parse_vary(spec.vary, problems, require_vary)
    seeds_ok = 1 <= spec.n_seeds <= MAX_SEEDS
    if not seeds_ok:
        problems.append(f"--seeds: must be between 1 and {MAX_SEEDS}, got {spec.n_seeds}")
    size = _refuse_size(choices, spec.n_seeds if seeds_ok else 1, spec.max_models)
    if size:  # before anything per variant: 40^4 variants would take hours to make
        raise ConfigError([p.replace("--vary", flag) for p in [*problems, size]])
    # Each --set and --vary value is parsed once, not once per variant it is part of.
    overrides = [_parsed(item, "--set", problems) for item in spec.overrides]
    parsed = [[(f"{key}={text}", _parsed(f"{key}={text}", "--vary", problems)) for text in
               values] for key, values in zip(keys, choices, strict=True)]  # fmt: skip
    if None in overrides or any(pair is None for values in parsed for _, pair in values):
        raise ConfigError([p.replace("--vary", flag) for p in problems])
    # The file with --set alone need not be valid: `--vary data.source=a.csv,b.csv` on a
    # config of a built-in set is, with its --set data.target. Its problems count through the
    # variants, where no varied value mends them. A value is checked with the others of its
    # variant, not alone, for the same reason (a CSV's data.target is valid only with it).
    base_problems: list[str] = []
    base = _validated(spec.raw, path, overrides, [], base_problems)
    variants: list[Config | None] = []
    for combination in itertools.product(*parsed):
        items, pairs = [item for item, _ in combination], [pair for _, pair in combination]
        found: list[str] = []
        variants.append(_validated(spec.raw, path, overrides, pairs, found))
        for problem in found:  # one the combination made, not any of its values alone
            if problem not in base_problems and "--vary" not in problem and items:
                problem += f" (with --vary {', '.join(items)})"
            problems.append(problem)
    if problems:  # each problem once, in order
        raise ConfigError([p.replace("--vary", flag) for p in dict.fromkeys(problems)])
    configs = [v for v in variants if v is not None]
    base = base or configs[0]
    _refuse_duplicates(configs, keys, list(itertools.product(*choices)), flag)
    values = [{key: _get(config, key) for key in keys} for config in configs]
    models = [
        GridModel(v, config.seed + i, _with_seed(config, config.seed + i))
        for v, config in enumerate(configs)
        for i in range(spec.n_seeds)
    ]
    _refuse_same_models(models, flag)
    labels = _labels(keys, values, models)
    return Grid(spec, base, keys, values, models, labels, _stacks(models, spec.sequential))


def _absolute_data_paths(item: str) -> str:
    """`data.source=a.csv,moons` -> the CSV's absolute path, so a resume elsewhere finds it."""
    key, sep, text = item.partition("=")
    if key.strip() != "data.source" or not sep:
        return item
    values = [
        str(Path(v).expanduser().resolve()) if looks_like_path(v) else v for v in split_values(text)
    ]
    return f"{key}={','.join(values)}"


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
            repeated = next(v for v, n in Counter(values).items() if n > 1)
            problems.append(f"--vary {key}: {repeated} is listed twice")
        else:
            keys.append(key)
            choices.append(values)
    return keys, choices


def _refuse_size(choices: list[list[str]], n_seeds: int, limit: int) -> str | None:
    """What is wrong with a grid of more than `limit` models, from its value counts alone."""
    counts = [*(len(values) for values in choices), n_seeds]
    if math.prod(counts) <= limit:
        return None
    return (
        f"--vary: the grid is {' x '.join(f'{n:,}' for n in counts[:-1]) or '1'} value(s) x"
        f" {n_seeds:,} seed(s) = {math.prod(counts):,} models, more than --max-models {limit:,};"
        " give fewer values or seeds, or raise --max-models"
    )


def _parsed(item: str, flag: str, problems: list[str]) -> tuple[str, Any] | None:
    """`KEY=VALUE` as (key, value parsed as YAML); one that cannot be read is a problem."""
    try:
        return parse_override(item, flag)
    except UsageError as exc:
        problems.append(str(exc))
        return None


def _validated(raw, path, overrides, pairs, problems) -> Config | None:
    try:
        return configure(raw, Path(path), overrides, pairs)
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


def _refuse_same_models(models: list[GridModel], flag: str) -> None:
    """Knobs that change no model (the run name, a width without hidden layers) make no sweep."""
    seen: set[str] = set()
    for model in models:
        dump = model.config.model_dump(mode="json")
        dump.pop("name"), dump.pop("output")
        dump["model"]["width"] = model.config.model.widths  # 8 and [8] are one network
        key = json.dumps(dump, sort_keys=True)
        if key in seen:
            raise UsageError(
                f"{flag}: two variants train the same model (a knob that changes nothing here,"
                " such as a width with model.depth 0, or a varied seed overlapping --seeds)"
            )
        seen.add(key)


def _labels(keys: list[str], values: list[dict[str, Any]], models: list[GridModel]) -> list[str]:
    """One unique, file-name-safe label per model."""
    labels: list[str] = []
    taken: set[str] = set()  # a set, so that a grid of many models is labelled in linear time
    for model in models:
        parts = []
        for key, value in values[model.variant].items():
            if key == "model.activation":
                parts.append(str(value))  # an activation names itself
            elif key == "data.source" and looks_like_path(str(value)):
                parts.append(f"source={Path(str(value)).stem}")
            else:
                parts.append(f"{short_key(key, keys)}={shown_value(value)}")
        label = f"{_safe('_'.join(parts) or 'model')[:150]}-seed{model.seed}"
        unique, n = label, 1
        while unique in taken:  # two values that only differ where _safe cuts or replaces
            n += 1
            unique = f"{label}-{n}"
        labels.append(unique)
        taken.add(unique)
    return labels


def _stacks(models: list[GridModel], sequential: bool) -> list[list[int]]:
    """Group models that can share one batched pass, each group's activations contiguous."""

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


SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=,")


def _safe(name: str) -> str:
    """A file name a shell takes without quoting: brackets, braces and quotes dropped (`[8,8]`
    becomes `8,8`), `:` read as `=`, any other character (spaces, `+`, non-ASCII) as `_`."""
    kept = (c if c in SHELL_SAFE else "=" if c == ":" else "_" for c in name if c not in "[]{}\"' ")
    return "".join(kept)[:200]


def data_key(config: Config) -> str:
    """Equal for configs that load and split the same data."""
    return json.dumps(config.data.model_dump(mode="json"), sort_keys=True)
