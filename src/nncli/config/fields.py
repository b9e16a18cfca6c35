"""What every config section shares: the strict base model, the float that reads `1e-3`, the
seed bound, and the wording of an unknown name."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from nncli.errors import excerpt

# YAML 1.1 (PyYAML) reads `1e-3` as a string because it has no dot; every user writes it anyway.
_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _scientific_float(value: Any) -> Any:
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    return value


Float = Annotated[float, BeforeValidator(_scientific_float)]

# scikit-learn's random_state takes seeds below 2**32; compare-activations adds up to 999 more.
MAX_SEED = 2**32 - 1000


class Strict(BaseModel):
    """A config section: unknown keys are errors, and values are not coerced between types."""

    model_config = ConfigDict(extra="forbid", strict=True)


def unknown_name(kind: str, name: object, valid: Any) -> str:
    """`unknown activation 'rleu' (did you mean 'relu'?); valid: ...`"""
    names = sorted(valid)
    close = difflib.get_close_matches(str(name)[:100], names, n=1) or _abbreviated(str(name), names)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {kind} {excerpt(str(name))}{hint}; valid: {', '.join(names)}"


def _abbreviated(name: str, names: list[str]) -> list[str]:
    """A name that is short for the typed one or that it is short for (`lrate` -> `lr`,
    `epoch` -> `epochs`), which spelling similarity misses when one is much shorter: the
    longest, when the shared start is two letters or more."""
    typed = name.lower()
    found = [n for n in names if min(len(n), len(typed)) >= 2
             and (typed.startswith(n.lower()) or n.lower().startswith(typed))]  # fmt: skip
    return sorted(found, key=len, reverse=True)[:1]


def switchable_section(value: Any, example: str) -> Any:
    """A section that can be switched on with its defaults (`true`) or off (`false`, null), or
    given: the mapping the schema reads, or None. `example` shows a section in the error."""
    if value is True:
        return {}
    if value is False or value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(
            f"must be true, false, null or a section such as {example}, got {excerpt(value)}"
        )
    return value
