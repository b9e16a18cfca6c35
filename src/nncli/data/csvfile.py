"""Reading a CSV file as a table of strings: its delimiter found, its header checked, each row's
line number kept."""

from __future__ import annotations

import csv
import itertools
import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd

from nncli.errors import UsageError, excerpts
from nncli.fileio import require_regular_file

# The delimiters `data.delimiter: auto` chooses from, by count in the header line.
DELIMITERS = (",", ";", "\t", "|")
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


def _checked_header(path: Path, delimiter: str) -> tuple[list[str], str]:
    """The header's names and the delimiter; every other non-blank row must have as many
    fields."""
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
    return names, sep


def _sniff(header: str, path: Path) -> str:
    """The delimiter most frequent in the header line outside quotes; a comma if none is."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = [unquoted.count(d) for d in DELIMITERS]
    best = max(range(len(DELIMITERS)), key=counts.__getitem__)  # ties: the earlier one
    return DELIMITERS[best] if counts[best] else ","
