"""A search space for `nncli tune`: config keys and the distributions their values are drawn
from, written `loguniform(1e-4, 1)`, `uniform(0, 0.9)`, `int(8, 256)`, `logint(8, 256)` or
`choice(relu, tanh, gelu)`, from `--search KEY=DIST` or a `--space` YAML file (a mapping of key
to distribution). Read and checked against the schema without optuna or torch, so a typo costs
no more than `nncli train`'s typo and one line; every problem is reported at once, by key.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nncli.config.keys import split_values
from nncli.config.loading import configure, read_yaml_mapping
from nncli.errors import ConfigError, UsageError, excerpt

# name -> (what its arguments are, an example): the one table `--help`, errors and docs read.
DISTRIBUTIONS = {
    "loguniform": (
        "two numbers 0 < low < high, drawn evenly on a log scale",
        "loguniform(1e-4, 1)",
    ),
    "uniform": ("two numbers low < high, drawn evenly", "uniform(0, 0.9)"),
    "int": ("two integers low < high, every integer between equally likely", "int(8, 256)"),
    "logint": ("two integers 1 <= low < high, drawn evenly on a log scale", "logint(8, 256)"),
    "choice": ("two or more distinct values, each equally likely", "choice(relu, tanh, gelu)"),
}

SAMPLERS = ("tpe", "random")  # Optuna's TPE (the default), or uniform random draws
PRUNERS = ("median", "none")  # Optuna's median pruner on val loss per epoch (the default)

# Keys a search leaves alone: the data and its split are prepared once for every trial (and a
# trial's score must be comparable with the others'), the seed is each trial's own, and the
# name, output and tracking say where things go, not what trains.
FIXED_PREFIXES = ("data.", "seed", "name", "output", "tracking")

_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Distribution:
    """What one key's values are drawn from: `low`/`high` for the ranges, `choices` for choice."""

    kind: str  # a name of DISTRIBUTIONS
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind in ("loguniform", "logint")

    @property
    def integer(self) -> bool:
        return self.kind in ("int", "logint")

    @property
    def text(self) -> str:
        """As it would be typed: `loguniform(0.0001, 1)`; run.json keeps it for a resume."""
        if self.kind == "choice":
            return f"choice({', '.join(_shown(c) for c in self.choices)})"
        low, high = (int(self.low), int(self.high)) if self.integer else (self.low, self.high)
        return f"{self.kind}({low:g}, {high:g})"

    def probes(self) -> list[Any]:
        """Values that stand for the whole range when checked against the schema: both ends,
        and for a float range a value between (an integer key refuses 12.6, not 8.0)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.integer:
            return [int(self.low), int(self.high)]
        middle = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        return [self.low, middle, self.high]


def parse_distribution(text: str) -> Distribution:
    """`loguniform(1e-4, 1)` -> Distribution; a ValueError says what is wrong, in a phrase."""
    match = _CALL.match(text)
    names = ", ".join(f"{name}(...)" for name in DISTRIBUTIONS)
    if match is None:
        raise ValueError(
            f"expected a distribution such as loguniform(1e-4, 1), got"
            f" {excerpt(text)}; the distributions: {names}"
        )
    kind, inner = match.groups()
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {excerpt(kind)}; the distributions: {names}")
    items = split_values(inner)
    if kind == "choice":
        values = [_value(item) for item in items]
        if len(values) < 2 or "" in items:
            raise ValueError(f"choice: give two or more values, e.g. {DISTRIBUTIONS[kind][1]}")
        shown = [_shown(v) for v in values]
        if len(set(shown)) != len(shown):
            raise ValueError(
                f"choice: {next(s for s in shown if shown.count(s) > 1)} is listed twice"
            )
        return Distribution(kind, choices=tuple(values))
    what, example = DISTRIBUTIONS[kind]
    try:
        low, high = (float(item) for item in items)
    except ValueError:
        raise ValueError(f"{kind}: expected {what}, e.g. {example}; got {excerpt(text)}") from None
    integer = kind in ("int", "logint")
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError(f"{kind}: expected {what}, e.g. {example}; got low {low:g}, high {high:g}")
    if integer and not (low.is_integer() and high.is_integer()):
        raise ValueError(f"{kind}: expected {what}, e.g. {example}; got {low:g}, {high:g}")
    if (kind == "loguniform" and low <= 0) or (kind == "logint" and low < 1):
        raise ValueError(f"{kind}: expected {what}, e.g. {example}; got low {low:g}")
    return Distribution(kind, low, high)


def read_space(path: Path) -> dict[str, str]:
    """A `--space` file: a YAML mapping of dotted key to distribution text."""
    raw = read_yaml_mapping(Path(path), what="search space")
    problems = [
        f"{path}: {key}: expected a distribution such as loguniform(1e-4, 1), got {excerpt(value)}"
        for key, value in raw.items()
        if not isinstance(value, str)
    ]
    if not raw:
        problems.append(
            f"{path}: empty; map each key to a distribution, e.g. training.lr: loguniform(1e-4, 1)"
        )
    if problems:
        raise ConfigError(problems)
    return {str(key): value for key, value in raw.items()}


def search_items(search: list[str]) -> dict[str, str]:
    """`--search KEY=DIST` options as {key: text}; a malformed or repeated one is refused."""
    items: dict[str, str] = {}
    problems = []
    for item in search:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(
                f"--search {excerpt(item)}: expected KEY=DIST, e.g. training.lr=loguniform(1e-4,1)"
            )
        elif key in items:
            problems.append(f"--search {key}: given twice")
        else:
            items[key] = text
    if problems:
        raise ConfigError(problems)
    return items


def check_space(
    texts: dict[str, str], raw: dict, path: Path, overrides: list[tuple[str, Any]], origin: str
) -> dict[str, Distribution]:
    """Each key's distribution parsed, and every value it can take checked against the schema
    with the config file and its `--set`; every problem at once, each naming `origin` (`--search`
    or the space file) and the key."""
    problems: list[str] = []
    space: dict[str, Distribution] = {}
    if not texts:
        problems.append(
            "--search: give at least one, e.g. --search training.lr=loguniform(1e-4,1)"
            " (or --space FILE.yaml)"
        )
    for key, text in texts.items():
        if key.startswith(FIXED_PREFIXES):
            problems.append(
                f"{origin} {key}: tune searches model and training keys; the data,"
                " seed, name, output and tracking stay as the config sets them"
            )
            continue
        try:
            distribution = parse_distribution(text)
        except ValueError as exc:
            problems.append(f"{origin} {key}: {exc}")
            continue
        found: list[str] = []
        for value in distribution.probes():
            try:
                configure(raw, path, overrides, [(key, value)])
            except ConfigError as exc:
                found += [p.replace("--vary", origin) for p in exc.problems]
            except UsageError as exc:
                found.append(str(exc).replace("--vary", origin))
        if found:  # a range's first refused value says it; each refused choice names itself
            problems += list(dict.fromkeys(found)) if distribution.kind == "choice" else found[:1]
            continue
        space[key] = distribution
    if problems:
        raise ConfigError(problems)
    return space


def _value(item: str) -> Any:
    """A choice's value as YAML reads it (`8` a number, `relu` a name, `[8, 8]` a list)."""
    try:
        return yaml.safe_load(item)
    except yaml.YAMLError:
        return item


def _shown(value: Any) -> str:
    return (
        json.dumps(value, separators=(",", ":")) if isinstance(value, list | dict) else str(value)
    )
