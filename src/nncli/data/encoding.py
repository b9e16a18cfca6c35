"""From typed feature cells to the model's inputs: one-hot categories and imputed values,
learned on the training split, applied to any rows, and kept in the model card.

Typed cells are a DataFrame whose index is each row's line in its file: a numeric column holds
float64 with NaN where a cell is missing, a categorical one holds strings with None where a cell
is missing (`csvdata.typed_features` makes them); a built-in set's are a `NumericTable`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nncli.config.data import MISSING_VALUES, DataConfig
from nncli.data.dataset import NumericTable
from nncli.errors import UsageError, excerpt, excerpts

if TYPE_CHECKING:  # imported where a CSV's cells need it: a built-in set goes without
    import pandas as pd

NUMERIC, CATEGORICAL = "numeric", "categorical"
# An MLP's inputs: as many as nncli reads columns (csvfile.MAX_COLUMNS).
MAX_INPUTS = 10_000


@dataclass(frozen=True)
class ColumnCode:
    """How one feature column becomes inputs."""

    name: str
    kind: str  # NUMERIC | CATEGORICAL
    categories: tuple[str, ...] = ()  # categorical: one input each, in this order
    fill: float | str | None = None  # replaces a missing cell; None: a missing cell is an error

    @property
    def inputs(self) -> list[str]:
        if self.kind == NUMERIC:
            return [self.name]
        return [f"{self.name}={category}" for category in self.categories]


@dataclass(frozen=True)
class Encoder:
    """Every feature column's code, and how cells were read and are to be read again."""

    columns: tuple[ColumnCode, ...]
    missing: str = "error"  # data.missing: "error" | "drop" | "impute"
    missing_values: tuple[str, ...] = MISSING_VALUES
    unknown: str = "error"  # data.unknown_categories: "error" | "zeros"

    @classmethod
    def numeric(cls, names: list[str]) -> Encoder:
        """Numbers as they are: a built-in set, or a checkpoint from before encodings."""
        return cls(tuple(ColumnCode(name, NUMERIC) for name in names))

    @property
    def names(self) -> list[str]:
        """The feature columns, as a file holds them."""
        return [column.name for column in self.columns]

    @property
    def categorical(self) -> set[str]:
        return {column.name for column in self.columns if column.kind == CATEGORICAL}

    @property
    def feature_names(self) -> list[str]:
        """The model's inputs: a numeric column's name, or `column=category` per category."""
        return [name for column in self.columns for name in column.inputs]

    @property
    def one_hot(self) -> np.ndarray:
        """(F,) bool: which inputs are one-hot (left unscaled, so all zeros stays neutral)."""
        return np.array([c.kind == CATEGORICAL for c in self.columns for _ in c.inputs], dtype=bool)

    def describe(self) -> str:
        """`island` 3, `sex` 2: the one-hot columns and their category counts."""
        return ", ".join(
            f"{c.name} {len(c.categories)}" for c in self.columns if c.kind == CATEGORICAL
        )

    def transform(self, cells: pd.DataFrame | NumericTable, where: str) -> np.ndarray:
        """(N, F) float64 inputs for typed cells of any rows; a missing cell with nothing to fill
        it and (unless mapped to zeros) an unseen category are errors naming line and column."""
        out = np.zeros((len(cells), len(self.feature_names)))  # (N, F)
        offsets = np.cumsum([0, *(len(c.inputs) for c in self.columns)])
        numeric = [i for i, c in enumerate(self.columns) if c.kind == NUMERIC]
        if numeric:  # one block: a file may hold 10,000 numeric columns
            codes = [self.columns[i] for i in numeric]
            values = _numbers(cells, [c.name for c in codes])  # (N, Fn)
            fills = np.array([np.nan if c.fill is None else c.fill for c in codes])
            values = np.where(np.isnan(values), fills, values)
            if np.isnan(values).any():
                column, row = divmod(int(np.argmax(np.isnan(values).T)), len(cells))
                self._missing(cells, row, codes[column].name, where)
            out[:, offsets[numeric]] = values
        for i, code in enumerate(self.columns):
            if code.kind == CATEGORICAL:
                out[:, offsets[i] : offsets[i + 1]] = self._one_hot(cells, code, where)
        return out

    def _one_hot(self, cells: pd.DataFrame, code: ColumnCode, where: str) -> np.ndarray:
        import pandas as pd

        values = cells[code.name].astype(object)
        missing = values.isna().to_numpy()
        if code.fill is not None:
            values = values.where(~missing, code.fill)
        elif missing.any():
            self._missing(cells, int(np.argmax(missing)), code.name, where)
        index = pd.Index(code.categories, dtype=object).get_indexer(values)  # -1: unseen
        unseen = index < 0
        if unseen.any() and self.unknown == "error":
            row = int(np.argmax(unseen))
            raise UsageError(
                f"{where}: line {cells.index[row]}, column {excerpt(code.name)}: category"
                f" {excerpt(values.iloc[row])} is not in the training split, which has"
                f" {excerpts(code.categories)}; set data.unknown_categories: zeros to encode"
                " categories it lacks as all zeros"
            )
        block = np.zeros((len(cells), len(code.categories)))  # (N, categories)
        rows = np.flatnonzero(~unseen)
        block[rows, index[rows]] = 1.0
        return block

    def _missing(
        self, cells: pd.DataFrame | NumericTable, row: int, column: str, where: str
    ) -> None:
        raise UsageError(
            f"{where}: line {cells.index[row]}, column {excerpt(column)}: missing value; fill or"
            f" drop the row (this model fills in none: it was trained with data.missing:"
            f" {self.missing})"
        )

    def to_dict(self) -> dict:
        return {
            "columns": [
                {"name": c.name, "kind": c.kind, "categories": list(c.categories), "fill": c.fill}
                for c in self.columns
            ],
            "missing": self.missing,
            "missing_values": list(self.missing_values),
            "unknown_categories": self.unknown,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Encoder:
        """The encoder `to_dict` saved; a ValueError unless it is one `fit_encoder` could make."""
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise ValueError("encoding must be a mapping with a list of columns")
        encoder = cls(
            tuple(_column(c) for c in data["columns"]),
            data.get("missing"),
            tuple(data.get("missing_values") or ()),
            data.get("unknown_categories"),
        )
        if encoder.missing not in ("error", "drop", "impute"):
            raise ValueError(f"encoding: unknown missing policy {excerpt(encoder.missing)}")
        if encoder.unknown not in ("error", "zeros"):
            raise ValueError(f"encoding: unknown_categories {excerpt(encoder.unknown)}")
        if not all(isinstance(v, str) for v in encoder.missing_values):
            raise ValueError("encoding: missing_values must be strings")
        if not encoder.columns or len(set(encoder.names)) != len(encoder.names):
            raise ValueError("encoding: columns must be distinct and at least one")
        return encoder


def _numbers(cells: pd.DataFrame | NumericTable, names: list[str]) -> np.ndarray:
    """(N, len(names)) float64: those numeric columns' cells."""
    if isinstance(cells, NumericTable):
        if names == cells.columns:
            return cells.values
        return cells.values[:, [cells.columns.index(name) for name in names]]
    return cells[names].to_numpy(dtype=np.float64)


def _column(data: object) -> ColumnCode:
    if not isinstance(data, dict):
        raise ValueError("encoding: every column must be a mapping")
    name, kind, categories, fill = (data.get(k) for k in ("name", "kind", "categories", "fill"))
    if not isinstance(name, str) or kind not in (NUMERIC, CATEGORICAL):
        raise ValueError(f"encoding: column {excerpt(name)} needs a name and a known kind")
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ValueError(f"encoding: column {excerpt(name)}: categories must be strings")
    if len(set(categories)) != len(categories) or (kind == CATEGORICAL) != bool(categories):
        raise ValueError(f"encoding: column {excerpt(name)}: malformed categories")
    if kind == NUMERIC and not (fill is None or _finite(fill)):
        raise ValueError(f"encoding: column {excerpt(name)}: fill must be a finite number")
    if kind == CATEGORICAL and not (fill is None or fill in categories):
        raise ValueError(f"encoding: column {excerpt(name)}: fill must be one of its categories")
    return ColumnCode(name, kind, tuple(categories), fill)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fit_encoder(train: pd.DataFrame | NumericTable, data: DataConfig) -> Encoder:
    """Learn, from the training split's typed cells, each categorical column's categories and,
    with `data.missing: impute`, every column's fill value."""
    if isinstance(train, NumericTable) and data.missing != "impute":  # numbers, none missing
        codes = [ColumnCode(name, NUMERIC) for name in train.columns]
    else:
        codes = _learned_codes(train, data)
    encoder = Encoder(
        tuple(codes), data.missing, tuple(data.missing_values), data.unknown_categories
    )
    names = encoder.feature_names
    if len(names) > MAX_INPUTS:
        raise UsageError(
            f"data: one-hot encoding gives {len(names):,} inputs ({encoder.describe()});"
            f" nncli takes at most {MAX_INPUTS:,}"
        )
    if len(set(names)) != len(names):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise UsageError(f"data: input name(s) {excerpts(clash)} would be made twice by one-hot"
                         " encoding; rename the column")  # fmt: skip
    return encoder


def _learned_codes(train: pd.DataFrame | NumericTable, data: DataConfig) -> list[ColumnCode]:
    """Each column's code: a numeric column's fill, a categorical one's categories and fill."""
    import pandas as pd

    if isinstance(train, NumericTable):
        train = pd.DataFrame(train.values, columns=train.columns, index=train.index)
    impute = data.missing == "impute"
    codes = []
    for name in train.columns:
        column = train[name]
        if pd.api.types.is_float_dtype(column.dtype):
            fill = None
            if impute:
                known = column.dropna()
                if known.empty:
                    raise _nothing_to_impute(name, data)
                fill = float(known.median() if data.impute == "median" else known.mean())
            codes.append(ColumnCode(str(name), NUMERIC, fill=fill))
            continue
        counts = column.dropna().value_counts()
        if counts.empty:
            raise _nothing_to_impute(name, data)
        categories = _ordered(list(counts.index))
        # The most frequent; ties go to the first in category order.
        fill = max(categories, key=lambda c: counts[c]) if impute else None
        codes.append(ColumnCode(str(name), CATEGORICAL, categories, fill))
    return codes


def _nothing_to_impute(name: object, data: DataConfig) -> UsageError:
    return UsageError(f"{data.source}: column {excerpt(str(name))} has no value in the training"
                      " split to learn from; leave it out (data.ignore_columns)")  # fmt: skip


def _ordered(categories: list[str]) -> tuple[str, ...]:
    """Numeric codes in numeric order ('2' before '10'), anything else alphabetically."""
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(categories, dtype=object), errors="coerce")
    if numbers.notna().all():
        return tuple(c for _, c in sorted(zip(numbers, categories, strict=True)))
    return tuple(sorted(categories))
