"""TensorBoard: event files in the run folder's `tensorboard/`, written by torch's own
`SummaryWriter` as each epoch ends, so a TensorBoard pointed at it draws the curves live.

A run's one model writes in `tensorboard/` itself; a sweep's or comparison's models each in
`tensorboard/<label>/`, a TensorBoard run apiece, with their hyperparameters for TensorBoard's
hparams dashboard. Each epoch's history row becomes scalars tagged by its columns (`train_loss`,
`val_accuracy`), at step = epoch; once trained, every metric of every split the kept weights
score is tagged `final/<split>_<metric>`, at step = the kept epoch. A resumed run writes on in
the same folders from the first epoch their events lack (a resumed run trains the same numbers,
so the epochs its first process wrote are not written twice).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nncli.config.tracking import TrackingConfig
from nncli.errors import UsageError
from nncli.runs.layout import TENSORBOARD_DIR
from nncli.tracking.client import Final, Plan

# Writers open at once while training: each holds a file and a thread. The models of a larger
# stack are written when the stack is done.
MAX_OPEN = 64
FINAL = "final/"


def check(config: TrackingConfig, name: str) -> dict:
    """Before training, without importing it: is TensorBoard installed?"""
    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError(
            "tracking.tensorboard: TensorBoard is not installed: pip install"
            " 'nncli[tensorboard]', or set tracking.tensorboard: false"
        )
    return {}


def load() -> None:
    """Import the writer (a few tenths of a second, torch being imported already)."""
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401

    if threading.excepthook is not _quiet_writer_threads:
        _quiet_writer_threads.previous = threading.excepthook  # type: ignore[attr-defined]
        threading.excepthook = _quiet_writer_threads


def _quiet_writer_threads(args: threading.ExceptHookArgs) -> None:
    """A writer thread's error (a full disk) without its traceback: the writer raises it again
    at the next write, where `Backends` says it in one line."""
    if type(args.thread).__name__ != "_AsyncWriterThread":
        _quiet_writer_threads.previous(args)  # type: ignore[attr-defined]


class Log:
    """One run's event files."""

    def __init__(self, settings: dict, plan: Plan, warn: Callable[[str], None]):
        self.plan = plan
        self.root = Path(plan.folder) / TENSORBOARD_DIR
        self.root.mkdir(exist_ok=True)
        self.writers: dict[int, Any] = {}  # model -> its open SummaryWriter
        # The last epoch written of each model: rows are written in order, none twice.
        self.written = [
            self._last_epoch(m) if plan.resuming else 0 for m in range(len(plan.models))
        ]

    def _folder(self, model: int) -> Path:
        return self.root / self.plan.models[model].label if self.plan.grid else self.root

    def _writer(self, model: int, *, live: bool) -> Any:
        writer = self.writers.get(model)
        if writer is None and (not live or len(self.writers) < MAX_OPEN):
            from torch.utils.tensorboard import SummaryWriter

            # flush_secs: the writer's thread writes the file out every second, for a live view.
            writer = SummaryWriter(log_dir=str(self._folder(model)), flush_secs=1)
            self.writers[model] = writer
        return writer

    def rows(self, models: list[int], rows: list[dict[str, float] | None]) -> None:
        for model in [m for m in self.writers if m not in models]:  # a new stack began
            self.writers.pop(model).close()
        for model, row in zip(models, rows, strict=True):
            if row is not None and row["epoch"] == self.written[model] + 1:
                writer = self._writer(model, live=True)
                if writer is not None:
                    self._write(model, writer, row)
                    # On disk as the epoch ends: a run killed next loses none of its epochs.
                    writer.flush()

    def _write(self, model: int, writer: Any, row: dict[str, float]) -> None:
        step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch":
                writer.add_scalar(key, value, step)
        self.written[model] = step

    def finish(self, status: str, finals: list[Final] | None) -> None:
        """Finished: each model's rows not yet written, its final metrics and hyperparameters;
        else only the files closed."""
        for model, final in enumerate(finals or []):
            from torch.utils.tensorboard.summary import hparams

            writer = self._writer(model, live=False)
            for row in final.history:
                if row["epoch"] > self.written[model]:
                    self._write(model, writer, row)
            metrics = {FINAL + key: value for key, value in final.metrics.items()}
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, final.kept_epoch)
            # As SummaryWriter.add_hparams writes them, but into the model's own run.
            for summary in hparams(self.plan.models[model].hparams, metrics):
                writer.file_writer.add_summary(summary)
            self.writers.pop(model).close()
        for writer in self.writers.values():
            writer.close()
        self.writers = {}

    def _last_epoch(self, model: int) -> int:
        """The last epoch a model's events hold (0: none), read with TensorBoard's reader."""
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        folder = self._folder(model)
        if not folder.is_dir():
            return 0
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        if "train_loss" not in events.Tags()["scalars"]:
            return 0
        return max(event.step for event in events.Scalars("train_loss"))
