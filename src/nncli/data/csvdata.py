"""A CSV file as a dataset: every cell checked and typed as a number or a category, rows without
a target (or, by `data.missing`, a feature) dropped; every problem named by line and column."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from nncli.config.data import DataConfig
from nncli.data.checks import missing_cells
from nncli.data.csvfile import MAX_MAGNITUDE, feature_names, number_table, read_table
from nncli.data.dataset import MAX_INFERRED_CLASSES, Dataset, label_value
from nncli.data.encoding import CATEGORICAL, NUMERIC
from nncli.errors import UsageError, excerpt, excerpts
from nncli.tasks import CLASSIFICATION, REGRESSION, TASKS

# Auto-detected categories: a text column with more distinct values (or, in a small file, more
# than half its rows) is more likely an id or free text, and must be named in data.categorical.
MAX_GUESSED_CATEGORIES = 100
# ISO-like dates and times (2024-03-01, 2024/03/01, 2024-03-01T12:30:00Z): refused with advice.
_DATE = re.compile(
    r"^\d{4}([-/])\d{1,2}\1\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def is_missing(text: pd.Series, missing_values: tuple[str, ...] | list[str]) -> np.ndarray:
    """(N,) bool: stripped cells that are empty or one of `missing_values`, in any case."""
    listed = {value.strip().lower() for value in missing_values}
    return (text.eq("") | text.str.lower().isin(listed)).to_numpy(dtype=bool)


def typed_features(
    table: pd.DataFrame,
    columns: list[str],
    path: Path,
    *,
    missing_values: tuple[str, ...] | list[str],
    categorical: Collection[str] = (),
    numeric: Collection[str] = (),
    detect: bool = True,
) -> pd.DataFrame:
    """The named columns as typed cells (what `encoding` takes): `categorical` ones as strings,
    None where missing; the others as float64, NaN where missing. With `detect`, a column in
    neither list is numeric if it holds any number, else categorical (unless it looks like
    dates, decimal commas or ids: refused); without, it is numeric.

    A cell of a numeric column that is neither a number within bounds nor missing is an error.
    The index keeps each row's line number.
    """
    n = len(table)
    # One pandas call for all cells (one per column made 10,000 columns take seconds).
    text = pd.Series(table[columns].to_numpy(dtype=object).ravel(order="F")).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    missing = is_missing(text, missing_values)
    kinds = []
    for j, name in enumerate(columns):
        if name in categorical:
            kinds.append(CATEGORICAL)
        elif name in numeric or not detect:
            kinds.append(NUMERIC)
        else:
            cells = slice(j * n, (j + 1) * n)
            found = ~np.isnan(numbers[cells]) & ~missing[cells]
            if found.any() or missing[cells].all():
                kinds.append(NUMERIC)
            else:
                _check_categories(text[cells], ~missing[cells], table.index, name, path)
                kinds.append(CATEGORICAL)
    number_columns = [j for j, kind in enumerate(kinds) if kind == NUMERIC]
    cells_of = np.concatenate([np.arange(j * n, (j + 1) * n) for j in number_columns] or [[]])
    cells_of = cells_of.astype(np.int64)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(numbers[cells_of]) <= MAX_MAGNITUDE) & ~missing[cells_of]
    if bad.any():
        first = int(cells_of[np.argmax(bad)])  # column by column: the first bad cell
        _refuse_cell(text.iloc[first], numbers[first], table.index[first % n],
                     columns[first // n], path)  # fmt: skip
    values = np.where(missing, np.nan, numbers).reshape(len(columns), n)  # (F, N)
    typed = {}
    for j, name in enumerate(columns):
        if kinds[j] == NUMERIC:
            typed[name] = pd.Series(values[j], index=table.index)
        else:
            strings = text.iloc[j * n : (j + 1) * n].to_numpy(dtype=object)
            strings[missing[j * n : (j + 1) * n]] = None
            typed[name] = pd.Series(strings, index=table.index, dtype=object)
    if len(number_columns) == len(columns):  # one block: fast for wide files
        return pd.DataFrame(values.T.copy(), index=table.index, columns=columns)
    return pd.DataFrame(typed, index=table.index, columns=columns)


def _refuse_cell(cell: str, number: float, line: int, column: str, path: Path) -> None:
    where = f"{path}: line {line}, column {excerpt(column)}"
    if np.isfinite(number):
        raise UsageError(f"{where}: {excerpt(cell)} is beyond ±{MAX_MAGNITUDE:g}, too"
                         " large to compute with; rescale the column")  # fmt: skip
    hint = " (a decimal comma? nncli reads '.' decimals)" if _DECIMAL_COMMA.match(cell) else ""
    raise UsageError(f"{where}: not a finite number: {excerpt(cell)}{hint}")


def _check_categories(
    text: pd.Series, present: np.ndarray, lines: pd.Index, name: str, path: Path
) -> None:
    """Refuse a text column that is not categories nncli should guess: dates, numbers with a
    decimal comma, and ids or free text (more distinct values than categories usually have)."""
    cells = text[present]
    first = cells.iloc[0]
    where = f"{path}: column {excerpt(name)}"
    line = lines[int(np.flatnonzero(present)[0])]
    if cells.str.match(_DATE).all():
        raise UsageError(
            f"{where} holds dates such as {excerpt(first)} (line {line}); nncli does not encode"
            " dates: leave the column out (data.ignore_columns), derive numbers from it in the"
            " file (year, day of year, days since a start), or list it in data.categorical"
        )
    if cells.str.match(_DECIMAL_COMMA).all():
        raise UsageError(
            f"{where} holds numbers with a decimal comma such as {excerpt(first)} (line {line});"
            " nncli reads numbers written with '.': save the file with '.' decimals"
        )
    distinct = cells.nunique()
    if distinct > min(MAX_GUESSED_CATEGORIES, max(10, len(text) // 2)):
        raise UsageError(
            f"{where} holds {distinct:,} distinct texts in {len(text):,} rows, such as"
            f" {excerpt(first)}: an id or free text? Leave it out (data.ignore_columns), or list"
            " it in data.categorical to one-hot encode it anyway"
        )


def numeric_columns(table: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """The named columns as a float64 matrix; a blank, non-numeric or overflowing cell is an
    error."""
    values = typed_features(table, columns, path, missing_values=(), detect=False).to_numpy()
    if np.isnan(values).any():
        column, row = divmod(int(np.argmax(np.isnan(values).T)), len(table))
        raise UsageError(f"{path}: line {table.index[row]}, column {excerpt(columns[column])}:"
                         " missing value; fill or drop the row")  # fmt: skip
    return values


def check_columns(table: pd.DataFrame, expected: list[str], path: Path, what: str) -> None:
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise UsageError(f"{path}: missing {what} column(s): {excerpts(missing)};"
                         f" the file has: {excerpts(table.columns)}")  # fmt: skip


def _check_named_columns(table: pd.DataFrame, data: DataConfig, path: Path) -> None:
    """Every column the data section names exists; all that do not, at once, with the closest
    name suggested."""
    present = [str(c) for c in table.columns]
    known = set(present)
    problems = []
    for key in ("features", "ignore_columns", "categorical", "numeric"):
        for name in getattr(data, key) or []:
            if name not in known:
                close = difflib.get_close_matches(name[:100], present, n=1)
                hint = f" (did you mean {excerpt(close[0])}?)" if close else ""
                problems.append(f"{path}: data.{key}: no column {excerpt(name)} in the file"
                                f"{hint}; it has: {excerpts(present)}")  # fmt: skip
    if problems:
        raise UsageError("\n".join(problems))


def read_csv_dataset(data: DataConfig) -> Dataset:
    """A training set from the CSV a data section names: typed feature cells, and a target that
    may hold string labels. Rows with no target, and with `data.missing: drop` rows missing a
    feature, are dropped, and `Dataset.notes` says how many."""
    path = Path(data.source).expanduser()
    target = data.target or ""
    numbers = number_table(path, data)
    table = numbers if numbers is not None else read_table(path, data.delimiter)
    check_columns(table, [target], path, "target")
    _check_named_columns(table, data, path)
    notes = []
    if table.attrs["delimiter"] != ",":
        notes.append(f"{path.name}: fields separated by {excerpt(table.attrs['delimiter'])}")
    table, label_notes = _drop_missing_targets(table, target, data, path)
    notes += label_notes
    features = feature_names(table.columns, data)
    if not features:
        raise UsageError(f"{path}: no feature columns besides the target {excerpt(target)}")
    if numbers is not None:
        cells = table[features].astype(np.float64)
    else:
        cells = typed_features(
            table,
            features,
            path,
            missing_values=data.missing_values,
            categorical=data.categorical,
            numeric=data.numeric,
        )
    cells, missing_notes = _apply_missing_policy(cells, data, path)
    notes += missing_notes
    table = table.loc[cells.index]
    y, task, classes, task_notes = _target_values(table, target, data.task, path)
    return Dataset(cells, y, task, target, classes, tuple(notes + task_notes))


def _drop_missing_targets(
    table: pd.DataFrame, target: str, data: DataConfig, path: Path
) -> tuple[pd.DataFrame, list[str]]:
    """Rows whose target is empty, or one of `data.missing_values` where the other targets are
    numbers (elsewhere such a cell is a class label, such as `NA`), are dropped and counted."""
    labels = table[target].str.strip()
    blank = labels.eq("").to_numpy()
    listed = is_missing(labels, data.missing_values) & ~blank
    numbers = pd.to_numeric(labels, errors="coerce").notna().to_numpy()
    numeric = _asks_for_values(data.task) or (numbers.any() and (numbers | listed | blank).all())
    dropped = blank | (listed if numeric else False)
    if not dropped.any():
        return table, []
    if dropped.all():
        raise UsageError(f"{path}: column {excerpt(target)} has no target value in any row")
    lines = table.index[dropped].tolist()
    note = (f"dropped {len(lines)} row(s) with no {excerpt(target)} value (line(s)"
            f" {excerpts(lines)})")  # fmt: skip
    return table[~dropped], [note]


def _apply_missing_policy(
    cells: pd.DataFrame, data: DataConfig, path: Path
) -> tuple[pd.DataFrame, list[str]]:
    missing = cells.isna().to_numpy()  # (N, F)
    if not missing.any():
        return cells, []
    if data.missing == "error":
        raise UsageError(missing_cells(cells, missing, path))
    if data.missing == "drop":
        rows = missing.any(axis=1)
        if rows.all():
            raise UsageError(f"{path}: every row misses a feature value; data.missing: drop"
                             " would leave none (data.missing: impute fills them in)")  # fmt: skip
        lines = cells.index[rows].tolist()
        return cells[~rows], [f"data.missing: drop: dropped {len(lines)} row(s) missing a"
                              f" feature value (line(s) {excerpts(lines)})"]  # fmt: skip
    if missing.all(axis=0).any():
        empty = cells.columns[int(np.argmax(missing.all(axis=0)))]
        raise UsageError(f"{path}: column {excerpt(empty)} has no value to impute from; leave"
                         " it out (data.ignore_columns)")  # fmt: skip
    columns = [str(c) for c, n in zip(cells.columns, missing.sum(axis=0), strict=True) if n]
    how = "median" if data.impute == "median" else "mean"
    return cells, [f"data.missing: impute: {int(missing.sum())} missing value(s) in"
                   f" {excerpts(columns)}, filled with the training split's {how} (numbers)"
                   " or most frequent category"]  # fmt: skip


def _target_values(
    table: pd.DataFrame, target: str, task: str, path: Path
) -> tuple[np.ndarray, str, list | None, list[str]]:
    """The target as class indices (and the classes) or values; the task, settled."""
    labels = table[target].str.strip()
    numbers = pd.to_numeric(labels, errors="coerce")
    numeric = not numbers.isna().any()
    infinite = np.isinf(numbers.to_numpy(dtype=np.float64))
    if infinite.any():  # a class label inf would be printed as the invalid JSON `Infinity`
        row = int(np.argmax(infinite))
        where = f"{path}: line {table.index[row]}, column {excerpt(target)}"
        raise UsageError(f"{where}: not a finite number: {excerpt(labels.iloc[row])}")
    if _asks_for_values(task) and not numeric:
        row = int(np.argmax(numbers.isna().to_numpy()))
        where = f"{path}: line {table.index[row]}, column {excerpt(target)}"
        raise UsageError(f"{where}: regression needs a number, got {excerpt(labels.iloc[row])}")
    notes = []
    if task not in TASKS:  # "auto": the target's values settle it
        task = CLASSIFICATION if not numeric or _looks_like_classes(numbers) else REGRESSION
        if numeric and TASKS[task].classes:
            notes.append(
                f"target {excerpt(target)}: {numbers.nunique()} distinct integers, taken as"
                " classes; set data.task: regression to predict numbers"
            )
    if not TASKS[task].classes:
        y = numeric_columns(table, [target], path)[:, 0]  # refuses magnitudes too
        return y, task, None, notes
    if numeric:  # numeric labels: classes in numeric order, kept as numbers
        classes, y = np.unique(numbers.to_numpy(dtype=np.float64), return_inverse=True)
        return y.astype(np.int64), task, [label_value(c) for c in classes], notes
    classes, y = np.unique(labels.to_numpy(dtype=str), return_inverse=True)
    return y.astype(np.int64), task, [str(c) for c in classes], notes


def _asks_for_values(task: str) -> bool:
    """Whether `data.task` names a task whose target is a number (not classes, not "auto")."""
    return task in TASKS and not TASKS[task].classes


def _looks_like_classes(numbers: pd.Series) -> bool:
    values = numbers.to_numpy(dtype=np.float64)
    return (
        bool(np.all(values == np.round(values))) and len(np.unique(values)) <= MAX_INFERRED_CLASSES
    )
