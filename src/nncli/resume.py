"""Resumable runs: the saved training state, when to write it, and when to refuse it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from nncli.config import Config, load_config
from nncli.errors import UsageError
from nncli.fileio import read_json_mapping


def save_training_state(path: Path, state, params, info: dict) -> None:
    """`checkpoint.save_training_state`, imported on use (it needs torch)."""
    from nncli.checkpoint import save_training_state as save

    save(path, state, params, info)


def save_best_checkpoint(path: Path, best_params: list, card) -> None:
    """The best epoch's weights so far, as a model checkpoint `nncli evaluate` can read."""
    from nncli.checkpoint import save_checkpoint
    from nncli.model import StackedMLP
    from nncli.training import load_parameters

    stacked = StackedMLP(card.sizes, [card.activation])
    load_parameters(stacked, best_params)
    save_checkpoint(path, stacked.member(0), card)


class ThrottledSaver:
    """Saves the resumable state after an epoch unless one was saved under a second ago.

    Small models run hundreds of epochs a second, and a save (about a millisecond with its
    fsync) would then cost more than training; a stop request always saves at once.
    """

    def __init__(self, save: Callable, interval_s: float = 1.0):
        self.save = save
        self.interval_s = interval_s
        self.last_saved = float("-inf")

    def __call__(self, state, params) -> None:
        now = time.monotonic()
        if now - self.last_saved >= self.interval_s:
            self.save(state, params)
            self.last_saved = now


def open_resumable(run_dir: Path, kind: str = "train") -> tuple[Path, Config, tuple]:
    """A run folder's config and saved state, refusing finished, failed or mismatched runs."""
    from nncli import runs
    from nncli.checkpoint import load_training_state

    status_file = run_dir / runs.RUN_FILE
    if not status_file.exists():
        raise UsageError(f"{run_dir}: not a run folder (no {runs.RUN_FILE})")
    record = read_json_mapping(status_file)
    status = record.get("status")
    if status == "running" and _alive(record.get("pid")):
        raise UsageError(
            f"{run_dir}: still running (process {record['pid']}); stop it first (Ctrl-C saves it)"
        )
    if status == "finished":
        raise UsageError(f"{run_dir}: this run already finished; there is nothing to resume")
    if status == "failed":
        raise UsageError(f"{run_dir}: this run failed; resuming would repeat the failure")
    last = run_dir / runs.LAST_STATE_FILE
    if not last.exists():
        raise UsageError(f"{run_dir}: no {runs.LAST_STATE_FILE} (stopped before its first epoch)")
    config = load_config(run_dir / runs.CONFIG_FILE, follow_symlinks=False)
    state, params, info = load_training_state(last)
    if info.get("kind") != kind:
        other = "nncli train" if info.get("kind") == "train" else "nncli compare-activations"
        raise UsageError(f"{run_dir}: this folder was started by {other}; resume it with that")
    if info.get("config") != config.model_dump(mode="json"):
        raise UsageError(
            f"{run_dir}: {runs.CONFIG_FILE} does not match the saved training state;"
            " was it edited after the run started?"
        )
    return run_dir, config, (state, params, info)


def _alive(pid: object) -> bool:
    """Whether a process of this id exists here (a run killed with -9 leaves none)."""
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
