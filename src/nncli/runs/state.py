"""The resumable training state (`last.safetensors`): its file format, and when to write it.

One safetensors file holds the stacked parameters, the best ones so far, SGD's momentum buffers,
each model's batch-order generator, the current epoch's order and done outputs, and (as JSON
metadata) the loop's counters, each model's record so far but its history (how many rows of it
the history file beside it holds: runs/history.py) and what the command needs back. A save
writes what changed, not every epoch's row so far.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import torch

from nncli.errors import DamagedFileError, UsageError, clipped
from nncli.fileio import atomic_write_bytes
from nncli.runs.history import HistoryJournal, history_path, read_history
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
        _check_resumable(state, params)
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
    epoch = state.epoch
    require(k_list(tracker.get("active"), lambda a: a in (True, False))
            and k_list(tracker.get("best_loss"), lambda v: _is_number(v) and v == v)  # not NaN
            and k_list(tracker.get("best_epoch"), lambda n: _is_int(n) and 0 <= n < epoch)
            and k_list(tracker.get("waited"), lambda n: _is_int(n) and 0 <= n < epoch),
            "tracker")  # fmt: skip
    for i, (record, active) in enumerate(zip(state.records, tracker["active"], strict=True)):
        _check_record(record, f"records.{i}", epoch=epoch, active=active)
    _check_finite(state, params)
    grads, layers = state.grad_sums, len(params) // 2
    require(grads is None or (grads.dtype == torch.float32 and grads.shape == (layers, k)),
            "grad_sums")  # fmt: skip


def _check_record(record: ModelRecord, where: str, *, epoch: int, active: bool) -> None:
    """A model's record as the engine keeps it: one history row of numbers per epoch it ran,
    every epoch before `epoch` for a model still training."""
    history, ran = record.history, record.epochs_run
    counters = ("best_epoch", "kept_epoch", "epochs_run")
    if not all(_is_int(getattr(record, name)) and getattr(record, name) >= 0 for name in counters):
        raise ValueError(f"{where}: its epoch counters are malformed")
    rows = isinstance(history, list) and all(
        isinstance(row, dict) and row.get("epoch") == n
        and all(value is None or _is_number(value) for value in row.values())
        for n, row in enumerate(history, start=1))  # fmt: skip
    if not (rows and len(history) == ran and ran <= epoch - 1 and (ran == epoch - 1 or not active)):
        raise ValueError(f"{where}.history is malformed")
    diverged = record.diverged
    if not (diverged is None or (len(diverged) == 2 and all(map(_is_int, diverged)))):
        raise ValueError(f"{where}.diverged is malformed")
    norms = record.grad_norms
    if not (norms is None or (isinstance(norms, list) and all(map(_is_number, norms)))):
        raise ValueError(f"{where}.grad_norms is malformed")


def _check_finite(state: TrainingState, params: list[torch.Tensor]) -> None:
    """What a model still training holds: non-finite numbers where training cannot put them are
    a damaged file, not a learning rate to blame (the resumed run would call it a divergence).

    Its best weights were finite when kept. Non-finite weights, momentum or outputs stay so once
    they appear, and each step's outputs come before its update: between epochs (a model that
    diverged was stopped as its epoch ended) all are finite; within one, non-finite weights must
    show in the outputs of its done steps, and finite weights mean finite momentum and outputs.
    """
    outputs = [state.outputs] if state.step > 0 else []  # (K, step * B, C) of the done steps
    for i, active in enumerate(state.tracker["active"]):
        if not active:
            continue
        bad = _first_not_finite("best.", state.best_params, i)
        if bad is not None:
            raise ValueError(
                f"{bad}: model {i}'s best weights are not finite numbers (a damaged file)"
            )
        weights = _first_not_finite("param.", params, i)
        shown = _first_not_finite("outputs", outputs, i)
        if weights is None:
            bad = _first_not_finite("momentum.", state.momentum_buffers, i) or shown
            if bad is not None:
                raise ValueError(f"{bad}: model {i}'s numbers are not finite while its weights are"
                                 " (a damaged file)")  # fmt: skip
        elif shown is None:
            raise ValueError(
                f"{weights}: model {i}'s weights are not finite numbers (a damaged file)"
            )


def _first_not_finite(prefix: str, tensors: list, k: int) -> str | None:
    """The name of the first of `tensors` whose model `k` holds a NaN or infinity."""
    bad = (j for j, t in enumerate(tensors) if t is not None and not bool(t[k].isfinite().all()))
    j = next(bad, None)
    return None if j is None else prefix + ("" if prefix == "outputs" else str(j))


def check_state_fits(
    path: Path,
    state: TrainingState,
    params: list[torch.Tensor],
    *,
    n_models: int,
    n_train: int,
    batch_size: int,
    sizes: list[int],
    epochs: int,
) -> None:
    """Refuse a saved state that is well formed but not of this stack, before the stack is
    made: its model count, its parameters' shapes (from the stack's layer `sizes`, inputs
    first; its best weights and momentum have theirs), its epoch, its epoch's sample order and
    the outputs of its done steps must fit the stack's config and data. A DamagedFileError:
    the run stays interrupted and resumable."""

    def damaged(what: str) -> DamagedFileError:
        return DamagedFileError(f"{path}: cannot resume from this file: {what}")

    if len(state.records) != n_models:
        raise damaged(f"it holds {len(state.records)} model(s); this stack has {n_models}")
    expected = [(n_models, n_out, n_in) for n_in, n_out in itertools.pairwise(sizes)]
    expected += [(n_models, n_out) for n_out in sizes[1:]]
    shapes = [tuple(p.shape) for p in params]
    if shapes != expected:
        pairs = enumerate(zip(shapes, expected, strict=False))
        j = next((j for j, (a, b) in pairs if a != b), min(len(shapes), len(expected)))
        found = f"param.{j} of shape {shapes[j]}" if j < len(shapes) else f"no param.{j}"
        wanted = f"{expected[j]}" if j < len(expected) else "none"
        raise damaged(f"{found}; the run's layer sizes {sizes} make it {wanted}")
    if state.epoch > epochs + 1:  # epochs + 1: saved as the last epoch ended
        raise damaged(f"epoch {state.epoch} is past the run's training.epochs ({epochs})")
    batch = min(batch_size, n_train)
    fits = state.order is None or (
        state.order.shape[-1] == n_train
        and state.step < -(-n_train // batch)
        and (state.step == 0 or state.outputs.shape[1] == state.step * batch)
    )
    if not fits:
        raise damaged(
            f"its epoch's order and outputs do not fit the run's {n_train} training rows in"
            f" batches of {batch}"
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


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
