"""Reading a config: YAML parsed safely, --set and --vary overrides, validation with every
problem reported at once, by file and dotted key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nncli.config.data import looks_like_path
from nncli.config.fields import unknown_name
from nncli.config.schema import Config, dump_config
from nncli.config.yamlfile import parse_yaml, read_yaml_mapping
from nncli.errors import ConfigError, UsageError, clipped, excerpt

# Keys an earlier nncli wrote into run folders and checkpoints and this one no longer has: a
# config nncli saved may hold them and still loads; one a user writes may not.
RETIRED_KEYS = ("training.early_stopping.monitor",)


def load_config(
    path: str | Path,
    overrides: list[str] | None = None,
    *,
    follow_symlinks: bool = True,
    saved: bool = False,
) -> Config:
    """Read a YAML config, apply `KEY=VALUE` overrides, and validate the result.

    A run folder's config.yaml is `saved` (written by nncli, so it may hold retired keys) and is
    read with `follow_symlinks=False` (nncli never writes one).
    """
    path = Path(path)
    raw = read_yaml_mapping(path, follow_symlinks=follow_symlinks)
    pairs = [parse_override(item) for item in overrides or []]
    return configure(without_retired_keys(raw) if saved else raw, path, pairs)


def without_retired_keys(saved: object) -> object:
    """A config mapping nncli saved, less the `RETIRED_KEYS` an earlier version wrote."""
    if not isinstance(saved, dict):
        return saved
    saved = copy.deepcopy(saved)
    for key in RETIRED_KEYS:
        *parents, last = key.split(".")
        node = saved
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return saved


def resolved_config_yaml(config_path: Path, overrides: list[str]) -> str:
    """The config as `nncli config` prints it: every default filled in, after the overrides."""
    return dump_config(load_config(config_path, overrides))


def configure(
    raw: dict[str, Any],
    path: Path,
    overrides: list[tuple[str, Any]],
    varied: list[tuple[str, Any]] | None = None,
) -> Config:
    """Validate a config file's mapping after `--set` overrides, then a sweep's `varied` ones.

    Both are (key, value) pairs `parse_override` read from `KEY=VALUE` (a grid parses each
    value once, not once per variant); problems name the flag that set the key.
    """
    raw = copy.deepcopy(raw)
    override_keys = set_keys(raw, overrides, "--set")
    vary_keys = set_keys(raw, varied or [], "--vary")
    from_cwd = "data.source" in override_keys | vary_keys
    _resolve_source_path(raw, path.parent, from_override=from_cwd)
    if raw.get("name") is None and "name" not in override_keys | vary_keys:
        raw["name"] = _default_name(path)
    flags = dict.fromkeys(override_keys, "--set") | dict.fromkeys(vary_keys, "--vary")
    return validate_config(raw, source=str(path), override_flags=flags)


def apply_overrides(raw: dict[str, Any], overrides: list[str], flag: str = "--set") -> set[str]:
    """Set each dotted `KEY=VALUE` (VALUE parsed as YAML) in `raw`; return the keys set."""
    return set_keys(raw, [parse_override(item, flag) for item in overrides], flag)


def parse_override(item: str, flag: str = "--set") -> tuple[str, Any]:
    """`KEY=VALUE` -> (KEY, VALUE parsed as YAML); a VALUE YAML cannot read stays a string."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"{flag} {excerpt(item)}: expected KEY=VALUE, for example training.lr=0.1")
    try:
        return key, parse_yaml(text, f"{flag} {clipped(key)}") if text.strip() else None
    except yaml.YAMLError:
        return key, text  # a plain string that merely looks odd, such as a path with ':'


def set_keys(raw: dict[str, Any], pairs: list[tuple[str, Any]], flag: str) -> set[str]:
    """Set each dotted key to (a copy of) its value in `raw`, making the sections on its way;
    return the keys set."""
    for key, value in pairs:
        parts = key.split(".")
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise UsageError(f"{flag} {key}: '{where}' is a value, not a section")
            node = child
        node[parts[-1]] = copy.deepcopy(value)  # a value a grid shares between its variants
    return {key for key, _ in pairs}


def _resolve_source_path(raw: dict[str, Any], config_dir: Path, *, from_override: bool) -> None:
    """Make a CSV path in the config file relative to that file, one from --set to the cwd,
    and `~` the home folder."""
    data = raw.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        return
    source = data["source"]
    if looks_like_path(source):
        base = Path.cwd() if from_override else config_dir
        data["source"] = str((base / Path(source).expanduser()).resolve())


def _default_name(path: Path) -> str:
    name = "".join(c if c.isalnum() or c in "_.-" else "-" for c in path.stem).lstrip("._-")
    return name or "run"


def validate_config(
    raw: dict[str, Any], *, source: str = "config", override_flags: dict[str, str] | None = None
) -> Config:
    """Validate a raw mapping against the schema, reporting every problem at once.

    `override_flags` maps keys set on the command line to their flag (`--set`, `--vary`).
    """
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(err, source, override_flags or {}) for err in exc.errors()]
        raise ConfigError(problems) from None


def _describe(err: Any, source: str, override_flags: dict[str, str]) -> str:
    kind = err["type"]
    key = _dotted_key(err["loc"], kind)
    if kind == "extra_forbidden":
        message = unknown_name("key", err["loc"][-1], _fields_at(err["loc"][:-1]))
    elif kind == "missing":
        message = "required but missing"
    else:
        message = err["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        if kind != "value_error" and not isinstance(err.get("input"), dict | list):
            message += f", got {excerpt(err.get('input'))}"
    # An unknown key set as `--set a.b.c=1` is reported at `a`: still say where it came from.
    flag = override_flags.get(key)
    if flag is None and kind == "extra_forbidden":
        flag = next((f for k, f in override_flags.items() if k.startswith(f"{key}.")), None)
    where = f"{flag} {key}" if flag else key
    return f"{source}: {where}: {message}" if where else f"{source}: {message}"


def _dotted_key(loc: tuple, kind: str) -> str:
    """Turn a pydantic location into `training.lr` or `model.width[1]`, dropping type tags."""
    parts: list[str] = []
    model: type[BaseModel] | None = Config
    for position, item in enumerate(loc):
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        elif model is not None and item in model.model_fields:
            parts.append(item)
            model = _submodel(model.model_fields[item].annotation)
        elif kind == "extra_forbidden" and position == len(loc) - 1:
            parts.append(clipped(str(item)))
        # Anything else is a union member's tag such as 'list[int]', not part of the key.
    return ".".join(parts)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _fields_at(loc: tuple) -> list[str]:
    """The keys valid in the section a pydantic location points into."""
    model: type[BaseModel] | None = Config
    for item in loc:
        if model is not None and isinstance(item, str) and item in model.model_fields:
            model = _submodel(model.model_fields[item].annotation)
    return list(model.model_fields) if model else []
