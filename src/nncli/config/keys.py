"""Dotted config keys: which ones a model of a stack may hold on its own, and how keys and their
values are shown in labels, legends and titles."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the schema (pydantic) stays unimported where only labels are wanted
    from nncli.config.schema import Config


def short_key(key: str, keys: list[str]) -> str:
    """The last part of a dotted key, unless another key ends the same (`seed`, `data.seed`)."""
    last = key.rsplit(".", 1)[-1]
    return last if sum(k.rsplit(".", 1)[-1] == last for k in keys) == 1 else key


def shown_value(value: Any) -> str:
    """A varied value as a user would type it: `0.1`, `relu`, `[8,8]`."""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def variant_label(values: dict[str, Any]) -> str:
    """A variant for legends and titles: `lr=0.1, activation=relu`."""
    keys = list(values)
    parts = [f"{short_key(k, keys)}={shown_value(v)}" for k, v in values.items()]
    return ", ".join(parts) or "base config"


# Config keys a model of a stack may have of its own; every other key its stack shares.
PER_MODEL_KEYS = (
    "name",
    "output",
    "seed",
    "model.activation",
    "training.lr",
    "training.momentum",
    "training.weight_decay",
    "training.nesterov",
    "training.early_stopping.patience",
    "training.early_stopping.min_delta",
)


def stack_key(config: Config) -> str:
    """Equal for configs whose models can train as one stack."""
    shared = config.model_dump(mode="json")
    for key in PER_MODEL_KEYS:
        *path, last = key.split(".")
        node = shared
        for part in path:
            node = node.get(part) or {}
        if isinstance(node, dict):
            node.pop(last, None)
    return json.dumps(shared, sort_keys=True)


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
