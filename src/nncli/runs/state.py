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
from nncli.fileio import atomic_write_bytes, read_regular_bytes
from nncli.runs.checkpoint import read_metadata
from nncli.runs.history import HistoryJournal, history_path, read_history
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
        data = read_regular_bytes(
            path, limit=checkpoint_limit(), what="resumable checkpoint", follow_symlinks=False
        )
        tensors = load(data)
        metadata = read_metadata(data)
        if metadata.get("format") != STATE_FORMAT:
            raise ValueError("not an nncli training state")
        version = metadata.get("format_version")
        if version != str(STATE_FORMAT_VERSION):
            raise ValueError(
                f"it was saved in format {str(version)[:20]!r} and this nncli resumes format"
                f" {STATE_FORMAT_VERSION}; finish it with the nncli that started it"
            )
        loop, info = json.loads(metadata["loop"]), json.loads(metadata["info"])
        count = sum(1 for name in tensors if name.startswith("param."))
        history = (history_path(path), loop["history"], len(data))
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
        _check_resumable(state, params)
    except FileNotFoundError:
        raise UsageError(f"{path}: no resumable checkpoint here") from None
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, OverflowError,
            RecursionError) as exc:  # fmt: skip
        raise UsageError(f"{path}: cannot resume from this file: {clipped(str(exc))}") from None
    return state, params, info


def _check_resumable(state: TrainingState, params: list[torch.Tensor]) -> None:
    """What the engine reads of a resumed state, as `save_training_state` writes it for K
    models: a crafted file fails here, as a ValueError, not inside the training loop."""
    k = len(state.records)

    def require(ok: object, what: str) -> None:
        if not ok:
            raise ValueError(f"{what} is malformed")

    def k_list(value: object, test) -> bool:
        return isinstance(value, list) and len(value) == k and all(map(test, value))

    require(k >= 1 and params and len(params) % 2 == 0, "param")
    require(all(p.dtype == torch.float32 and p.dim() >= 2 and len(p) == k for p in params), "param")
    require([p.shape for p in state.best_params] == [p.shape for p in params], "best")
    generator = torch.Generator().get_state()
    require(len(state.shuffler_states) == k and all(
        g.dtype == generator.dtype and g.shape == generator.shape for g in state.shuffler_states
    ), "shuffler")  # fmt: skip
    require(_is_int(state.epoch) and state.epoch >= 1, "epoch")
    require(_is_int(state.step) and state.step >= 0, "step")
    if state.order is None:
        require(state.step == 0 and state.outputs is None, "step")
    else:
        n = state.order.shape[-1]
        require(state.step < n, "step")  # every step trains at least one sample
        require(state.order.dtype == torch.int64 and state.order.shape == (k, n)
                and torch.equal(state.order.sort(dim=1).values, torch.arange(n).expand(k, n)),
                "order")  # fmt: skip
        outputs = state.outputs
        require(state.step == 0 or (
            outputs is not None and outputs.dim() == 3 and outputs.shape[0] == k
            and outputs.shape[2] == params[len(params) // 2 - 1].shape[1]
            and 0 < outputs.shape[1] <= n), "outputs")  # fmt: skip
    shapes = [p.shape for p in params]  # one buffer per stacked parameter, K = 1 included
    buffers = state.momentum_buffers
    require(len(buffers) == len(params) and all(
        b is None or (b.dtype == torch.float32 and b.shape == shape)
        for b, shape in zip(buffers, shapes, strict=True)), "momentum buffers")  # fmt: skip
    tracker = state.tracker if isinstance(state.tracker, dict) else {}
    require(k_list(tracker.get("active"), lambda a: a in (True, False))
            and k_list(tracker.get("best_loss"), lambda v: isinstance(v, int | float))
            and k_list(tracker.get("best_epoch"), _is_int)
            and k_list(tracker.get("waited"), _is_int), "tracker")  # fmt: skip
    for record in state.records:
        require(isinstance(record.history, list)
                and all(isinstance(row, dict) for row in record.history), "history")  # fmt: skip
        require(all(_is_int(getattr(record, name))
                    for name in ("best_epoch", "kept_epoch", "epochs_run")), "record")  # fmt: skip
    # Between epochs, a model still training holds finite weights (one that diverged was
    # stopped as its epoch ended): non-finite ones are a damaged file, not a learning rate to
    # blame. Within an epoch they may be a divergence its end has yet to record.
    for i, active in enumerate(tracker["active"]):
        if state.step == 0 and active and not all(bool(p[i].isfinite().all()) for p in params):
            raise ValueError(f"model {i}'s weights are not finite numbers (a damaged file)")
    grads, layers = state.grad_sums, len(params) // 2
    require(grads is None or (grads.dtype == torch.float32 and grads.shape == (layers, k)),
            "grad_sums")  # fmt: skip


def check_state_fits(
    path: Path, state: TrainingState, *, n_models: int, n_train: int, batch_size: int
) -> None:
    """Refuse a saved state that is well formed but not of this stack: its model count, its
    epoch's sample order and the outputs of its done steps must fit the stack's data."""
    batch = min(batch_size, n_train)
    fits = len(state.records) == n_models and (
        state.order is None
        or (
            state.order.shape[-1] == n_train
            and state.step < -(-n_train // batch)
            and (state.step == 0 or state.outputs.shape[1] == state.step * batch)
        )
    )
    if not fits:
        raise UsageError(
            f"{path}: cannot resume from this file: its state does not fit the run's"
            f" {n_models} model(s) and {n_train} training rows in batches of {batch}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    if not all(_is_int(n) and n >= 0 for n in counts) or not isinstance(id, str):
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
