"""Training progress: a live bar on a terminal, throttled plain epoch lines anywhere else."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

from nncli.report.tables import make_console, safe

if TYPE_CHECKING:
    from nncli.train.state import EpochReport


def epoch_line(report: EpochReport, model: int = 0) -> str:
    parts = [f"epoch {report.epoch}/{report.epochs}", f"train_loss {report.train_loss[model]:.4f}"]
    parts.append(f"train_{report.metric} {report.train_metric[model]:.4f}")
    if report.val_loss is not None and report.val_metric is not None:
        parts.append(f"val_loss {report.val_loss[model]:.4f}")
        parts.append(f"val_{report.metric} {report.val_metric[model]:.4f}")
    return "  ".join(parts)


class LineThrottle:
    """Which epochs get a plain progress line, so a log of a fast run stays short.

    Always the first epoch reported (of each stack), the last, and any epoch at which a model
    stopped (early stopping or divergence); any other epoch only when both a second and 1% of
    the epochs have passed since the last line: at most one line a second, and at most about a
    hundred over a run.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.restart()

    def restart(self) -> None:
        self._time: float | None = None
        self._epoch = 0
        self._active: int | None = None

    def __call__(self, report: EpochReport) -> bool:
        now, active = self.clock(), sum(report.active)
        stopped = self._active is not None and active < self._active
        wanted = (
            self._time is None
            or report.epoch >= report.epochs
            or stopped
            or (now - self._time >= 1.0 and (report.epoch - self._epoch) * 100 >= report.epochs)
        )
        self._active = active
        if wanted:
            self._time, self._epoch = now, report.epoch
        return wanted


class EpochProgress:
    """A rich progress bar on a terminal; throttled plain epoch lines anywhere else."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        on_pipe_closed: Callable[[], None] | None = None,
    ):
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.on_pipe_closed = on_pipe_closed  # the reader left (`| head`): say so, print no more
        self._progress = None
        self._task = None
        self.throttle = LineThrottle()  # plain lines only: a live bar redraws in place

    def __enter__(self) -> EpochProgress:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.__enter__()
        return self

    def print(self, message: str, *, markup: bool = False) -> None:
        """Print above a live bar (through its console), or plainly when there is none: plain
        text shown literally, or rich markup the caller made `safe` where it quotes data."""
        if not self.enabled:
            return
        if not markup:
            message = safe(message)
        try:
            if self._progress is not None:
                self._progress.console.print(message)
            else:
                make_console(stderr=self.stream is sys.stderr).print(message)
        except BrokenPipeError:
            self._pipe_closed()

    def __call__(self, report: EpochReport) -> None:
        if not self.enabled:
            return
        try:
            if self._progress is None:
                if self.throttle(report):
                    print(epoch_line(report), file=self.stream, flush=True)
                return
            if self._task is None:
                self._task = self._progress.add_task("train", total=report.epochs, stats="")
            stats = f"loss {report.train_loss[0]:.4f}"
            if report.val_loss is not None and report.val_metric is not None:
                stats += f"  val_loss {report.val_loss[0]:.4f}  val_{report.metric} "
                stats += f"{report.val_metric[0]:.4f}"
            self._progress.update(self._task, completed=report.epoch, stats=stats)
        except BrokenPipeError:
            self._pipe_closed()

    def _pipe_closed(self) -> None:
        import os

        self.enabled = False
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.stream.fileno())  # so later writes and the exit flush cannot fail
        os.close(devnull)
        if self.on_pipe_closed is not None:
            self.on_pipe_closed()

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


class GridProgress(EpochProgress):
    """Progress of a grid's models: each stack's epochs, with how many models still train."""

    def __init__(self, stream: TextIO | None = None, **options: object):
        super().__init__(stream, **options)
        self.stack: tuple[int, int] | None = None  # (index, count) once a grid has stacks

    def start_stack(self, index: int, n_stacks: int) -> None:
        self.stack = (index, n_stacks)
        self.throttle.restart()  # each stack's first epoch gets its line

    def __call__(self, report: EpochReport) -> None:
        if not self.enabled:
            return
        active = sum(report.active)
        losses = report.val_loss if report.val_loss is not None else report.train_loss
        split = "val" if report.val_loss is not None else "train"
        finite = [v for v in losses if math.isfinite(v)]
        best = f"{min(finite):.4f}" if finite else "-"
        stats = f"{active}/{len(report.active)} models training  best {split}_loss {best}"
        where = ""
        if self.stack is not None and self.stack[1] > 1:
            where = f"stack {self.stack[0] + 1}/{self.stack[1]}  "
        try:
            if self._progress is None:
                if self.throttle(report):
                    print(
                        f"{where}epoch {report.epoch}/{report.epochs}  {stats}",
                        file=self.stream,
                        flush=True,
                    )
                return
            if self._task is None:
                self._task = self._progress.add_task("epoch", total=report.epochs, stats="")
            self._progress.update(
                self._task, completed=report.epoch, total=report.epochs, stats=where + stats
            )
        except BrokenPipeError:
            self._pipe_closed()
