"""CSV input: every cell checked, and every problem named by file, line and column."""

from __future__ import annotations

import csv
import itertools
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from nncli.datasets import MAX_INFERRED_CLASSES, Dataset, label_value
from nncli.errors import UsageError, excerpt, excerpts
from nncli.fileio import require_regular_file

_MISSING = {"", "na", "nan", "n/a", "null", "none"}
# Larger values overflow float64 once squared (in a variance, a loss): refused as bad input.
MAX_MAGNITUDE = 1e150
# Wider files are refused from their header alone, read in bounded time (a million columns took
# over 15 minutes to fail); an MLP on 10,000 raw features is already far outside nncli's scope.
MAX_COLUMNS = 10_000
MAX_HEADER_CHARS = 4 * 2**20


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV with a header as strings, refusing missing, empty and header-only files.

    The index holds each row's line number in the file, for error messages.
    """
    require_regular_file(path, what="data file")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        header = _checked_header(path, sep)
        with warnings.catch_warnings():
            # pandas warns, then drops data, when it reads rows differently from the csv module.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                skip_blank_lines=False,
                index_col=False,  # never take the first column as an index
                encoding="utf-8-sig",
            )
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: file is empty; expected a header row and data rows") from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError, OSError,
            csv.Error) as exc:  # fmt: skip
        raise UsageError(f"{path}: cannot parse CSV: {str(exc).strip()}") from None
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicated:
        raise UsageError(f"{path}: duplicate column name(s): {excerpts(duplicated)}")
    table.columns = header  # stripped of surrounding spaces
    table.index = pd.RangeIndex(2, len(table) + 2)  # line 1 is the header
    table = table[~(table == "").all(axis=1)]  # blank lines
    if table.empty:
        raise UsageError(f"{path}: has a header but no data rows")
    return table


def _checked_header(path: Path, sep: str) -> list[str]:
    """The header's names; every other non-blank row must have as many fields."""
    # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would
    # otherwise become part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = handle.readline(MAX_HEADER_CHARS + 1)
        if len(first) > MAX_HEADER_CHARS:
            raise UsageError(
                f"{path}: the header line is longer than {MAX_HEADER_CHARS:,} characters;"
                f" nncli reads {MAX_COLUMNS:,} columns at most"
            )
        rows = csv.reader(itertools.chain([first], handle), delimiter=sep, skipinitialspace=True)
        header = next(rows, None)
        if header is None:
            raise pd.errors.EmptyDataError
        if len(header) > MAX_COLUMNS:
            raise UsageError(f"{path}: the header has {len(header):,} columns; nncli reads at"
                             f" most {MAX_COLUMNS:,}")  # fmt: skip
        for row in rows:
            if row and any(cell.strip() for cell in row) and len(row) != len(header):
                raise UsageError(
                    f"{path}: line {rows.line_num} has {len(row)} fields, but the header has"
                    f" {len(header)} ({excerpts(header)})"
                )
    names = [name.strip() for name in header]
    unnamed = [i + 1 for i, name in enumerate(names) if not name]
    if unnamed:
        raise UsageError(f"{path}: header column {unnamed[0]} has no name")
    return names


def numeric_columns(table: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """The named columns as a float64 matrix; the first blank, non-numeric or overflowing cell
    (column by column) is an error. One pandas call for all cells: one per column made a file
    of 10,000 columns take seconds."""
    text = pd.Series(table[columns].to_numpy(dtype=object).ravel(order="F")).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(numbers) <= MAX_MAGNITUDE)  # also NaN: blank or not a number
    if bad.any():
        first = int(np.argmax(bad))  # (F, N) order: the first column with a bad cell
        column, row = divmod(first, len(table))
        cell = text.iloc[first]
        where = f"{path}: line {table.index[row]}, column {excerpt(columns[column])}"
        if cell.lower() in _MISSING:
            raise UsageError(f"{where}: missing value; fill or drop the row")
        if np.isfinite(numbers[first]):
            raise UsageError(f"{where}: {excerpt(cell)} is beyond ±{MAX_MAGNITUDE:g}, too"
                             " large to compute with; rescale the column")  # fmt: skip
        raise UsageError(f"{where}: not a finite number: {excerpt(cell)}")
    return numbers.reshape(len(columns), len(table)).T.copy()  # (N, F)


def check_columns(table: pd.DataFrame, expected: list[str], path: Path, what: str) -> None:
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise UsageError(f"{path}: missing {what} column(s): {excerpts(missing)};"
                         f" the file has: {excerpts(table.columns)}")  # fmt: skip


def read_csv_dataset(
    path: Path, target: str, task: str, ignore: list[str] | tuple[str, ...] = ()
) -> Dataset:
    """A training set from CSV: numeric features, and a target that may hold string labels.

    `ignore` names columns (ids, notes) that are neither features nor the target.
    """
    table = read_table(path)
    check_columns(table, [target], path, "target")
    check_columns(table, list(ignore), path, "ignored")
    ignored = set(ignore)
    features = [str(c) for c in table.columns if c != target and c not in ignored]
    if not features:
        raise UsageError(f"{path}: no feature columns besides the target {excerpt(target)}")
    X = numeric_columns(table, features, path)
    labels = table[target].str.strip()
    blank = labels.str.lower().isin(_MISSING).to_numpy()
    if blank.any():
        row = int(np.argmax(blank))
        raise UsageError(
            f"{path}: line {table.index[row]}, column {excerpt(target)}: missing target value"
        )
    numbers = pd.to_numeric(labels, errors="coerce")
    numeric = not numbers.isna().any()
    infinite = np.isinf(numbers.to_numpy(dtype=np.float64))
    if infinite.any():  # a class label inf would be printed as the invalid JSON `Infinity`
        row = int(np.argmax(infinite))
        where = f"{path}: line {table.index[row]}, column {excerpt(target)}"
        raise UsageError(f"{where}: not a finite number: {excerpt(labels.iloc[row])}")
    if task == "regression" and not numeric:
        row = int(np.argmax(numbers.isna().to_numpy()))
        where = f"{path}: line {table.index[row]}, column {excerpt(target)}"
        raise UsageError(f"{where}: regression needs a number, got {excerpt(labels.iloc[row])}")
    if task == "auto":
        task = "classification" if not numeric or _looks_like_classes(numbers) else "regression"
    if task == "regression":
        y = numeric_columns(table, [target], path)[:, 0]  # refuses magnitudes too
        return Dataset(X, y, "regression", features, target, None)
    if numeric:  # numeric labels: classes in numeric order, kept as numbers
        classes, y = np.unique(numbers.to_numpy(dtype=np.float64), return_inverse=True)
        labels_out = [label_value(c) for c in classes]
        return Dataset(X, y.astype(np.int64), "classification", features, target, labels_out)
    classes, y = np.unique(labels.to_numpy(dtype=str), return_inverse=True)
    return Dataset(X, y.astype(np.int64), "classification", features, target,
                   [str(c) for c in classes])  # fmt: skip


def _looks_like_classes(numbers: pd.Series) -> bool:
    values = numbers.to_numpy(dtype=np.float64)
    return (
        bool(np.all(values == np.round(values))) and len(np.unique(values)) <= MAX_INFERRED_CLASSES
    )
