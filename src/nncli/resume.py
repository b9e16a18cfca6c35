"""The resumable training state (`last.safetensors`): its file format, and when to write it.

One safetensors file holds the stacked parameters, the best ones so far, SGD's momentum buffers,
each model's batch-order generator, the current epoch's order and done outputs, and (as JSON
metadata) the loop's counters, each model's record so far and what the command needs back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from nncli.checkpoint import read_metadata
from nncli.engine import ModelRecord, TrainingState
from nncli.errors import UsageError
from nncli.fileio import atomic_write_bytes

STATE_FORMAT = "nncli.training-state"
# Its own version: the model checkpoint's format can change without orphaning resumable runs.
STATE_FORMAT_VERSION = 2


def save_training_state(
    path: Path, state: TrainingState, params: list[torch.Tensor], info: dict
) -> None:
    """Write the state atomically; `info` is JSON the command wants back when resuming."""
    from safetensors.torch import save

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
        "records": [asdict(record) for record in state.records],
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

    path = Path(path)
    try:
        data = path.read_bytes()
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
        records = [record_from_json(r) for r in loop["records"]]
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
    except FileNotFoundError:
        raise UsageError(f"{path}: no resumable checkpoint here") from None
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, OverflowError) as exc:
        raise UsageError(f"{path}: cannot resume from this file: {exc}") from None
    return state, params, info


def record_from_json(saved: dict) -> ModelRecord:
    """A ModelRecord from its `dataclasses.asdict` JSON."""
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
