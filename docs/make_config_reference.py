"""Write docs/config.md's reference table from the schema (src/nncli/config/schema.py).

    .venv/bin/python docs/make_config_reference.py

Every key of `Config`, depth first in the schema's order, with its type, default, allowed values
or bounds, and the field's own `description`. Only the text between the two markers changes;
tests/test_docs.py fails when the page is not what this script writes.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from nncli.config.schema import Config

PAGE = Path(__file__).resolve().parent / "config.md"
BEGIN = "<!-- BEGIN config reference: docs/make_config_reference.py writes this table -->"
END = "<!-- END config reference -->"


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (`int | None` -> [int, None]); a lone type as a list of one."""
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]


def _bare(annotation: Any) -> Any:
    """A type without its `Annotated[...]` validators (the scientific-notation float)."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _section(annotation: Any) -> type[BaseModel] | None:
    """The nested model of a field holding a section (optional or not), else None."""
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _type_name(annotation: Any) -> str:
    annotation = _bare(annotation)
    origin = get_origin(annotation)
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if origin is Literal:
        return " \\| ".join(dict.fromkeys(type(v).__name__ for v in get_args(annotation)))
    if origin in (Union, types.UnionType):
        return " \\| ".join(dict.fromkeys(_type_name(m) for m in get_args(annotation)))
    if origin is list:
        return f"list[{_type_name(get_args(annotation)[0])}]"
    if origin is dict:
        key, value = get_args(annotation)
        key_name = _type_name(key)
        key_name = f"({key_name})" if "|" in key_name else key_name
        return f"map {key_name} → {_type_name(value)}"
    return annotation.__name__


def _code(value: Any) -> str:
    """A value as it is written in YAML, in backticks."""
    if isinstance(value, str) and not value.isprintable():
        shown = json.dumps(value)  # the tab delimiter: "\t"
    elif isinstance(value, str) and not value.replace("_", "").isalnum():
        shown = f'"{value}"'
    else:
        shown = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
        shown = shown.removesuffix("\n...").strip()
    return f"`{shown}`"


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _allowed(field: FieldInfo) -> str:
    """The values a Literal allows, and the bounds and pattern the field declares."""
    parts = []
    for member in _members(field.annotation):
        if get_origin(member) is Literal:
            parts.extend(_code(v) for v in get_args(member))
    for rule in field.metadata:
        for attribute, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if isinstance(rule, getattr(annotated_types, attribute.capitalize())):
                parts.append(f"{sign} {_number(getattr(rule, attribute))}")
        if getattr(rule, "pattern", None):
            parts.append(f"matches `{rule.pattern}`")
        if getattr(rule, "allow_inf_nan", True) is False:
            parts.append("finite")
    return ", ".join(parts)


def _default(field: FieldInfo, section: type[BaseModel] | None) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if section is not None and value is not None:
        return "its keys' defaults"
    return _code(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\\\\|", "\\|")


def rows(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, ...]]:
    """(dotted key, type, default, allowed, description) for every key, sections first."""
    found = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if not field.description:
            raise ValueError(f"{model.__name__}.{name} has no description")
        section = _section(field.annotation)
        type_name = _type_name(field.annotation)
        found.append(
            (f"`{key}`", type_name, _default(field, section), _allowed(field), field.description)
        )
        if section is not None:
            found.extend(rows(section, f"{key}."))
    return found


def table() -> str:
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key, type_name, default, allowed, description in rows():
        cells = [key, type_name, _cell(default), _cell(allowed), _cell(description)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(page: str) -> str:
    """The page with its reference table replaced by the one the schema gives."""
    before, rest = page.split(BEGIN + "\n", 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{table()}\n{END}{after}"


if __name__ == "__main__":
    PAGE.write_text(render(PAGE.read_text()))
