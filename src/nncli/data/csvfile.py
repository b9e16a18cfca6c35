"""Reading a CSV file as a table of strings: its delimiter found, its header checked, each row's
line number kept; or, for the common file of plain numbers, as numbers read by pandas' C parser."""

from __future__ import annotations

import csv
import io
import itertools
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from nncli.config.data import DataConfig
from nncli.errors import UsageError, excerpts
from nncli.fileio import require_regular_file

# The delimiters `data.delimiter: auto` chooses from, by count in the header line.
DELIMITERS = (",", ";", "\t", "|")
# Larger values overflow float64 once squared (in a variance, a loss): refused as bad input.
MAX_MAGNITUDE = 1e150
# Wider files are refused from their header alone, read in bounded time (a million columns took
# over 15 minutes to fail); an MLP on 10,000 raw features is already far outside nncli's scope.
MAX_COLUMNS = 10_000
MAX_HEADER_CHARS = 4 * 2**20


def read_table(path: Path, delimiter: str = "auto") -> pd.DataFrame:
    """Read a CSV with a header as strings, refusing missing, empty and header-only files.

    `~` is expanded; the delimiter is `delimiter`, or with "auto" the most frequent of
    DELIMITERS in the header line (a .tsv file's is a tab), kept in `attrs["delimiter"]`.
    The index holds each row's line number in the file, for error messages.
    """
    path = Path(path).expanduser()
    require_regular_file(path, what="data file")
    try:
        header, sep = _checked_header(path, delimiter)
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
    table.attrs["delimiter"] = sep
    return table


def feature_names(columns: Iterable, data: DataConfig) -> list[str]:
    """`data.features`, or every column but the target and `data.ignore_columns`."""
    ignored = {*data.ignore_columns, data.target}
    return data.features or [str(c) for c in columns if c not in ignored]


def number_table(path: Path, data: DataConfig) -> pd.DataFrame | None:
    """The file read by pandas' C parser where every feature column is finite numbers within
    bounds and nothing makes a number mean something else (a categorical feature, a missing-value
    token that is a number); None: every cell is read as text and typed one by one."""
    if data.categorical or any(_finite_number(token) for token in data.missing_values):
        return None
    table = _read_numbers(path, data.delimiter, [data.target or ""])
    if table is None:
        return None
    features = feature_names(table.columns, data)
    if not features or any(name not in table.columns for name in features):
        return None
    kinds = {table[name].dtype.kind for name in features}
    if not kinds <= {"f", "i", "u"}:  # a column of text, or True/False
        return None
    values = table[features].to_numpy(dtype=np.float64)
    return table if (np.abs(values) <= MAX_MAGNITUDE).all() else None  # NaN is not <=


def _finite_number(text: str) -> bool:
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def _read_numbers(path: Path, delimiter: str, text_columns: list[str]) -> pd.DataFrame | None:
    """The file as `read_table` would read it, but with every column other than `text_columns`
    read as numbers by pandas' C parser (a column of anything else stays strings); None where the
    file is any less plain (quotes, a row of another length, a blank line, bad bytes):
    `read_table` then reads it cell by cell and names the problem.

    Reading 50,000 x 20 numbers as strings and typing each cell took 2.6 s; this takes 0.2 s
    (2026-12-02). `number_table` uses it only where every feature came out as finite numbers.
    """
    path = Path(path).expanduser()
    require_regular_file(path, what="data file")
    try:
        header, sep = _checked_header(path, delimiter, every_row=False)
        raw = path.read_bytes()
        if len(set(header)) < len(header) or not all(header):
            return None
        if not _every_line_has(raw, sep, len(header)):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.BytesIO(raw),
                sep=sep,
                dtype={i: str for i, name in enumerate(header) if name in text_columns},
                na_filter=False,
                skipinitialspace=True,
                index_col=False,
                encoding="utf-8-sig",
            )
    except (UsageError, ValueError, pd.errors.ParserWarning, UnicodeDecodeError, OSError,
            csv.Error):  # fmt: skip
        return None  # ParserError and EmptyDataError are ValueErrors
    if table.empty or len(table.columns) != len(header):
        return None
    table.columns = header
    table.index = pd.RangeIndex(2, len(table) + 2)  # line 1 is the header
    table.attrs["delimiter"] = sep
    return table


def _every_line_has(raw: bytes, sep: str, fields: int) -> bool:
    """Every line of a file without quotes has `fields` fields: what the csv module's pass over
    each row checks, counted on the bytes (pandas fills a short row's cells with blanks)."""
    if b'"' in raw or len(sep) != 1 or not raw:
        return False  # a quoted field may hold the delimiter or a line break
    data = np.frombuffer(raw, dtype=np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(data == ord("\n")) + 1])
    starts = starts[starts < len(data)]
    separators = np.add.reduceat(data == ord(sep), starts, dtype=np.int64)
    return bool((separators == fields - 1).all())


def _checked_header(path: Path, delimiter: str, *, every_row: bool = True) -> tuple[list[str], str]:
    """The header's names and the delimiter; every other non-blank row must have as many
    fields (not checked without `every_row`)."""
    # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would
    # otherwise become part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = handle.readline(MAX_HEADER_CHARS + 1)
        if len(first) > MAX_HEADER_CHARS:
            raise UsageError(
                f"{path}: the header line is longer than {MAX_HEADER_CHARS:,} characters;"
                f" nncli reads {MAX_COLUMNS:,} columns at most"
            )
        sep = delimiter if delimiter != "auto" else _sniff(first, path)
        rows = csv.reader(itertools.chain([first], handle), delimiter=sep, skipinitialspace=True)
        header = next(rows, None)
        if header is None:
            raise pd.errors.EmptyDataError
        if len(header) > MAX_COLUMNS:
            raise UsageError(f"{path}: the header has {len(header):,} columns; nncli reads at"
                             f" most {MAX_COLUMNS:,}")  # fmt: skip
        for row in rows if every_row else ():
            if row and any(cell.strip() for cell in row) and len(row) != len(header):
                raise UsageError(
                    f"{path}: line {rows.line_num} has {len(row)} fields, but the header has"
                    f" {len(header)} ({excerpts(header)})"
                )
    names = [name.strip() for name in header]
    unnamed = [i + 1 for i, name in enumerate(names) if not name]
    if unnamed:
        raise UsageError(f"{path}: header column {unnamed[0]} has no name")
    return names, sep


def _sniff(header: str, path: Path) -> str:
    """The delimiter most frequent in the header line outside quotes; a comma if none is."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = [unquoted.count(d) for d in DELIMITERS]
    best = max(range(len(DELIMITERS)), key=counts.__getitem__)  # ties: the earlier one
    return DELIMITERS[best] if counts[best] else ","
