"""The resumable training state (`last.safetensors`): its file format, and when to write it.

One safetensors file holds the stacked parameters, the best ones so far, SGD's momentum buffers,
each model's batch-order generator, the current epoch's order and done outputs, and (as JSON
metadata) the loop's counters, each model's record so far but its history (how many rows of it
the history file beside it holds: runs/history.py) and what the command needs back. A save
writes what changed, not every epoch's row so far.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import torch

from nncli.errors import UsageError, clipped
from nncli.fileio import atomic_write_bytes
from nncli.runs.history import HistoryJournal, history_path, read_history
from nncli.runs.statechecks import check_resumable, is_int
from nncli.runs.tensorfile import read_tensor_file
from nncli.train.state import ModelRecord, TrainingState

STATE_FORMAT = "nncli.training-state"
# Its own version: the model checkpoint's format can change without orphaning resumable runs.
# 3: K = 1 momentum buffers are stacked like K > 1's; 4: the history in a file of its own
STATE_FORMAT_VERSION = 4


def save_training_state(
    path: Path,
    state: TrainingState,
    params: list[torch.Tensor],
    info: dict,
    *,
    history: HistoryJournal | None = None,
) -> None:
    """Write the state atomically; `info` is JSON the command wants back when resuming.

    The records' history goes to `history` (the journal of this state file, which a caller
    saving the same run again and again keeps, so that each save appends only the new rows)
    first; the state, written after it, counts the rows it covers.
    """
    from safetensors.torch import save

    history = history or HistoryJournal(history_path(path))
    rows = history.write(state.records)

    def cpu(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.detach().cpu().contiguous()

    tensors = {f"param.{i}": cpu(p) for i, p in enumerate(params)}
    tensors |= {f"best.{i}": cpu(p) for i, p in enumerate(state.best_params)}
    tensors |= {f"shuffler.{i}": s for i, s in enumerate(state.shuffler_states)}
    tensors |= {
        f"momentum.{i}": cpu(b) for i, b in enumerate(state.momentum_buffers) if b is not None
    }
    for name in ("order", "outputs", "grad_sums"):
        value = getattr(state, name)
        if value is not None:
            tensors[name] = cpu(value)
    loop = {
        "epoch": state.epoch,
        "step": state.step,
        "tracker": state.tracker,
        "n_models": len(state.records),
        "history": history.id,
        "records": [_record_json(r, n) for r, n in zip(state.records, rows, strict=True)],
    }
    metadata = {
        "format": STATE_FORMAT,
        "format_version": str(STATE_FORMAT_VERSION),
        "loop": json.dumps(loop),
        "info": json.dumps(info),
    }
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_training_state(path: Path) -> tuple[TrainingState, list[torch.Tensor], dict]:
    """(state, stacked parameters, info) from `save_training_state`'s file."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from nncli.runs.checkpoint import checkpoint_limit

    path = Path(path)
    try:
        # Its header first: a state whose loading would not fit in memory is refused unread.
        data, header = read_tensor_file(path, limit=checkpoint_limit(), what="resumable checkpoint")
        tensors, state_bytes = load(data), len(data)
        del data  # the tensors are copies
        metadata = header.metadata
        if metadata.get("format") != STATE_FORMAT:
            raise ValueError("not an nncli training state")
        version = metadata.get("format_version")
        if version != str(STATE_FORMAT_VERSION):
            raise ValueError(
                f"it was saved in format {str(version)[:20]!r} and this nncli resumes format"
                f" {STATE_FORMAT_VERSION}; finish it with the nncli that started it"
            )
        loop, info = json.loads(metadata["loop"]), json.loads(metadata["info"])
        if not isinstance(loop, dict):
            raise ValueError("loop is not a mapping")
        count = sum(1 for name in tensors if name.startswith("param."))
        history = (history_path(path), loop["history"], state_bytes)
        records = _records_from_json(loop["records"], *history)
        state = TrainingState(
            epoch=loop["epoch"],
            step=loop["step"],
            order=tensors.get("order"),
            outputs=tensors.get("outputs"),
            shuffler_states=[tensors[f"shuffler.{i}"] for i in range(loop["n_models"])],
            momentum_buffers=[tensors.get(f"momentum.{i}") for i in range(count)],
            tracker=loop["tracker"],
            best_params=[tensors[f"best.{i}"] for i in range(count)],
            grad_sums=tensors.get("grad_sums"),
            records=records,
        )
        params = [tensors[f"param.{i}"] for i in range(count)]
        check_resumable(state, params)
    except FileNotFoundError:
        raise UsageError(f"{path}: no resumable checkpoint here") from None
    except KeyError as exc:  # a tensor or a field the file lacks
        raise UsageError(f"{path}: cannot resume from this file: it has no {exc}") from None
    except (OSError, SafetensorError, ValueError, TypeError, OverflowError,
            RecursionError) as exc:  # fmt: skip
        raise UsageError(
            f"{path}: cannot resume from this file: {clipped(str(exc), 200)}"
        ) from None
    return state, params, info


def _record_json(record: ModelRecord, rows: int) -> dict:
    """A record as JSON, its history as the count of rows the history file holds: no row is
    copied (`dataclasses.asdict` would deep-copy every one)."""
    saved = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "history"}
    return saved | {"history_rows": rows}


def _records_from_json(saved: object, path: Path, id: object, state_bytes: int) -> list:
    """The records `_record_json` wrote, each with its rows from the history file `path`
    (whose first line names it `id`)."""
    from nncli.runs.checkpoint import checkpoint_limit

    if not isinstance(saved, list) or not all(isinstance(r, dict) for r in saved):
        raise ValueError("records are malformed")
    if any("history" in r for r in saved):  # its rows are in the history file, always
        raise ValueError("a record holds its history")
    counts = [r.pop("history_rows", None) for r in saved]
    if not all(is_int(n) and n >= 0 for n in counts) or not isinstance(id, str):
        raise ValueError("history_rows is malformed")
    records = [record_from_json(r) for r in saved]
    limit = max(checkpoint_limit() - state_bytes, 0)  # the two files read together
    for record, rows in zip(records, read_history(path, counts, id=id, limit=limit), strict=True):
        record.history = rows
    return records


def record_from_json(saved: dict) -> ModelRecord:
    """A ModelRecord from its `dataclasses.asdict` JSON."""
    if not isinstance(saved, dict):
        raise ValueError("a model record is not a mapping")
    record = ModelRecord(**saved)
    record.diverged = tuple(record.diverged) if record.diverged else None
    return record


class ThrottledSaver:
    """Saves the resumable state after an epoch unless one was saved under a second ago.

    Small models run hundreds of epochs a second, and a save (about a millisecond with its
    fsync) would then cost more than training; a stop request always saves at once.
    """

    def __init__(
        self, save: Callable[[TrainingState, list[torch.Tensor]], None], interval_s: float = 1.0
    ):
        self.save = save
        self.interval_s = interval_s
        self.last_saved = float("-inf")

    def __call__(self, state: TrainingState, params: list[torch.Tensor]) -> None:
        now = time.monotonic()
        if now - self.last_saved >= self.interval_s:
            self.save(state, params)
            self.last_saved = now
