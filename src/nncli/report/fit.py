"""Tables that fit the terminal: columns chosen by priority so that every cell shows whole, and
numbers written compactly (`0.977 ± 0.005`, `3.31e5 ± 2.0e4`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.table import Table

from nncli.errors import printable


@dataclass(frozen=True)
class Column:
    """A column of a table that fits: its cells, and a shorter form of them for a narrow
    terminal (`1/2` for `1/2 (0: 3, 12)`). Priority 0 is always shown; higher numbers give way
    first."""

    header: str
    cells: list[str]
    priority: int = 0
    justify: str = "right"
    short: list[str] | None = None


# A rich table's default box puts one space either side of each cell and a rule between and
# around the columns: three characters a column, and the closing rule.
PER_COLUMN, CLOSING = 3, 1


def _width(header: str, cells: list[str]) -> int:
    """Headers wrap at spaces; cells never."""
    return max([len(word) for word in header.split()] + [len(c) for c in cells] + [1])


def fit_columns(columns: list[Column], width: int | None) -> list[Column]:
    """The columns to show in `width` characters (all, in full, when None): the short forms of
    those that fit by priority, then the full forms of those with room, in table order."""
    if width is None:
        return columns
    shown = [c if c.short is None else Column(c.header, c.short, c.priority, c.justify)
             for c in columns]  # fmt: skip
    used = CLOSING + sum(_width(c.header, c.cells) + PER_COLUMN for c in shown if not c.priority)
    keep = {i for i, c in enumerate(shown) if not c.priority}
    for i in sorted(range(len(shown)), key=lambda i: shown[i].priority):
        need = _width(shown[i].header, shown[i].cells) + PER_COLUMN
        if i not in keep and used + need <= width:
            keep.add(i)
            used += need
    for i in sorted(keep, key=lambda i: columns[i].priority):
        extra = _width(columns[i].header, columns[i].cells) - _width(
            shown[i].header, shown[i].cells
        )
        if columns[i].short is not None and used + extra <= width:
            shown[i] = columns[i]
            used += extra
    return [shown[i] for i in sorted(keep)]


def build_table(title: str, columns: list[Column], width: int | None = None) -> Table:
    """Every cell and header escaped: values from data are never markup or control."""
    table = Table(title=title)
    chosen = fit_columns(columns, width)
    for column in chosen:
        header = escape(printable(column.header))
        table.add_column(header, justify=column.justify)  # type: ignore[arg-type]
    for row in zip(*(c.cells for c in chosen), strict=True):
        table.add_row(*(escape(printable(cell)) for cell in row))
    return table


class Fitted:
    """A table built for the width of the console it is printed on."""

    def __init__(self, build: Callable[[int | None], Table]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)


def _exponent(value: float, digits: int) -> str:
    """`3.31e5`, not `3.31e+05`."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def over_seeds(one: bool) -> str:
    """What a grid's cells are: `mean ± std over seeds`, or with `one` seed its value alone."""
    return "one seed" if one else "mean ± std over seeds"


def compact_mean_std(mean: float, std: float | None) -> str:
    """The mean to three significant digits and the spread to the same place (at least one
    significant digit of it): `0.977 ± 0.005`; `3.31e5 ± 2.0e4` past 1e4 or below 1e-3."""
    magnitude = math.floor(math.log10(abs(mean))) if mean else 0
    if not -3 <= magnitude < 4:
        return _exponent(mean, 2) + ("" if std is None else f" ± {_exponent(std, 1)}")
    decimals = max(0, 2 - magnitude)
    if std is None:
        return f"{mean:.{decimals}f}"
    spread = decimals
    if 0 < std < 0.5 * 10.0**-decimals:  # would round to zero: down to its first digit
        spread = -math.floor(math.log10(std))
        if spread > 4:  # `9e-5`, not `0.00009`
            return f"{mean:.{decimals}f} ± {_exponent(std, 0)}"
    return f"{mean:.{decimals}f} ± {std:.{spread}f}"
