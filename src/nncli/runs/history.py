"""A resumable state's history rows, in their own file beside it (`last.history.jsonl` beside
`last.safetensors`), appended as saves come.

A long run's history grows by a row per model per epoch; written into the state itself, every
save (one a second) would copy and write all of it, and a run of 100,000 epochs would spend
seconds on each. Here a save appends only the rows added since the one before, fsynced before
the state that counts them is written, and the state records how many rows of each model it
covers: a row appended after the state's last save (the process killed in between) is beyond
its count, and never read back.

One JSON line per row, `[model, {"epoch": 1, "train_loss": ...}]`: floats as their shortest
repr, which reads back to the very same float, so a resumed run's history is bit for bit an
uninterrupted one's. The first line, `["nncli-history", ID]`, names the file, and the state
records the ID: a history file swapped for another state's is refused, not read as its own.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.errors import WriteError
from nncli.fileio import atomic_write_bytes, read_regular_bytes

if TYPE_CHECKING:
    from nncli.train.state import ModelRecord


FORMAT = "nncli-history"


def history_path(state_path: Path) -> Path:
    """The history file beside a state file: `last.safetensors` -> `last.history.jsonl`."""
    state_path = Path(state_path)
    return state_path.with_name(state_path.name.removesuffix(".safetensors") + ".history.jsonl")


class HistoryJournal:
    """The history file of one state file, kept up to date by each save of that state."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._records: list[ModelRecord] | None = None  # whose rows the file holds
        self._counts: list[int] = []  # how many of each one's rows
        self.id = ""  # the file's, drawn each time it is written anew

    def write(self, records: list[ModelRecord]) -> list[int]:
        """Bring the file up to `records`' rows, fsynced; return how many each model has.

        The records of the last call (the engine appends to the same lists) get their new rows
        appended; other records (the first save of a process, a grid's next stack) write the
        file anew.
        """
        counts = [len(record.history) for record in records]
        rewrite = records is not self._records or any(
            n < before for n, before in zip(counts, self._counts, strict=True)
        )
        self._records = None  # until the file is whole again
        if rewrite:
            self.id = secrets.token_hex(8)
            header = json.dumps([FORMAT, self.id]).encode() + b"\n"
            atomic_write_bytes(self.path, header + _lines(records, [0] * len(records)))
        else:
            self._append(_lines(records, self._counts))
        self._records, self._counts = records, counts
        return counts

    def _append(self, data: bytes) -> None:
        if not data:
            return
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:  # O_NOFOLLOW: nothing in a run folder is written through a symlink
            fd = os.open(self.path, flags)
            with os.fdopen(fd, "ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(fd)
        except OSError as exc:
            # A row may be half-written: the next save writes the file anew (`write` forgot the
            # records), and a resume reads only the rows its state counts, which come before it.
            raise WriteError(f"{self.path}: cannot write: {exc.strerror or exc}") from None


def _lines(records: list[ModelRecord], start: list[int]) -> bytes:
    """Each model's rows from `start[model]` on, as JSON lines."""
    lines = [
        json.dumps([i, row]) + "\n"
        for i, record in enumerate(records)
        for row in record.history[start[i] :]
    ]
    return "".join(lines).encode()


def read_history(path: Path, counts: list[int], *, id: str, limit: int) -> list[list[dict]]:
    """Each model's first `counts[model]` rows from `path`, the file `id` names; what follows
    them is not read.

    Another file (another id), one of fewer rows, or a line that is not `[model, {name:
    number}]` is a ValueError (a damaged file); one that is not a regular file of at most
    `limit` bytes, a UsageError.
    """
    rows: list[list[dict]] = [[] for _ in counts]
    missing = sum(counts)
    if missing == 0:
        return rows
    data = read_regular_bytes(path, limit=limit, what="training history", follow_symlinks=False)
    header, _, data = data.partition(b"\n")
    if json.loads(header) != [FORMAT, id]:
        raise ValueError("its history file is another state's")
    for line in data.split(b"\n"):
        if missing == 0 or not line:  # what follows is beyond the state, or nothing
            break
        entry = json.loads(line)
        if not (isinstance(entry, list) and len(entry) == 2 and _is_row(entry[1])):
            raise ValueError("its history has a malformed row")
        model, row = entry
        if not (type(model) is int and 0 <= model < len(counts)):
            raise ValueError("its history names another model")
        if len(rows[model]) < counts[model]:
            rows[model].append(row)
            missing -= 1
    if missing:
        raise ValueError("its history is cut short")
    return rows


def _is_row(row: object) -> bool:
    return isinstance(row, dict) and all(
        isinstance(key, str) and isinstance(value, int | float) and not isinstance(value, bool)
        for key, value in row.items()
    )
