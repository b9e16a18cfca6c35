"""What a training command holds to track its run: the backends checked before training, and
a worker process that writes to them while the command trains.

The backends' libraries are heavy (MLflow takes as long to import as torch) and their writes
may wait on a disk or a server, so neither happens in the training process: a worker (a plain
interpreter, as the figure workers are) imports them while the command imports torch and reads
its data, and takes each epoch's rows through a pipe, fed by a thread so that training never
waits on it. What can be checked without importing a backend (installed, a URI MLflow takes, a
server that answers) is checked before the run folder is claimed, and refused in one line.
A backend that fails later (a full disk, a server gone) is one warning line, and training goes
on: the run folder holds everything the backend would have shown.

Pickle is safe on these pipes: they join this process and the child it started.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nncli.config.tracking import TrackingConfig

# Each backend's module: `check(config, name)` here, before training, without importing the
# backend's library; `Log(settings, plan)` in the worker.
BACKENDS = {"tensorboard": "nncli.tracking.tensorboard", "mlflow": "nncli.tracking.mlflow"}
# How long a finished run waits for its last rows, files and statuses to be written.
FINISH_SECONDS = 300
_SERVE = "from nncli.tracking.worker import serve; serve()"


@dataclass(frozen=True)
class TrackedModel:
    """One model as the backends show it."""

    label: str  # its TensorBoard run and MLflow run name: `lr=0.1-seed0`
    params: dict[str, str]  # its resolved config, flattened to dotted keys
    hparams: dict[str, object]  # what TensorBoard's hparams dashboard compares


@dataclass(frozen=True)
class Plan:
    """What the worker opens: where the run is, and its models."""

    folder: str  # the run folder, absolute
    grid: bool  # a sweep or comparison: one run per model, under one run for the folder
    resuming: bool  # continue the runs the folder's first process started
    params: dict[str, str]  # the folder's base config, flattened
    models: list[TrackedModel]


@dataclass(frozen=True)
class Final:
    """A trained model's whole history and what its kept weights measure."""

    history: list[dict[str, float]]
    metrics: dict[str, float]  # `val_accuracy`, `test_loss`: every number of every split
    kept_epoch: int  # the epoch whose weights were measured


class Tracking:
    """The worker process writing one run's tracking, and the warnings it sends back."""

    def __init__(self, settings: dict[str, dict], warn: Callable[[str], None] | None):
        package_root = str(Path(__file__).resolve().parents[2])  # where `nncli` is imported from
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.warn = warn
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self._stderr: collections.deque[bytes] = collections.deque(maxlen=20)
        self._closed = False  # nothing more will be sent
        self._gone = False  # the worker is done, or died
        self._outbox.put(settings)
        for target in (self._feed, self._read, self._drain_stderr):
            threading.Thread(target=target, daemon=True).start()

    @classmethod
    def start(
        cls, config: TrackingConfig, name: str, warn: Callable[[str], None] | None
    ) -> Tracking | None:
        """Check each backend `config` turns on (a `UsageError` for one that cannot work), then
        start the worker; None when tracking is off."""
        if not config.backends:
            return None
        settings = {
            backend: importlib.import_module(BACKENDS[backend]).check(config, name)
            for backend in config.backends
        }
        return cls(settings, warn)

    def open(self, plan: Plan) -> None:
        """Open (or, resuming, reopen) the run's TensorBoard runs and MLflow runs."""
        self._send(("open", plan))

    def rows(self, models: list[int], rows: list[dict[str, float] | None]) -> None:
        """One epoch's history rows of these models (their indices in the plan)."""
        self._send(("rows", models, rows))
        self._say()

    def finish(self, status: str, finals: list[Final] | None = None) -> None:
        """End the runs: FINISHED with each model's `finals` (the rows not yet written, the
        final metrics, the files), or KILLED or FAILED; wait for the worker to be done."""
        self._send(("finish", status, finals))
        self.close()
        while not self._gone:
            try:
                answer = self._answers.get(timeout=FINISH_SECONDS)
            except queue.Empty:
                self._tell(f"tracking: not done after {FINISH_SECONDS} s; stopped")
                self.process.kill()
                break
            if answer[0] == "warning":
                self._tell(answer[1])
            else:
                self._end(answer)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def close(self) -> None:
        """No more to send: the worker ends once it has written what it was sent."""
        if not self._closed:
            self._closed = True
            self._outbox.put(None)

    def _send(self, message: tuple) -> None:
        if not self._closed:
            self._outbox.put(message)

    def _say(self) -> None:
        """The warnings the worker sent so far, said."""
        while True:
            try:
                answer = self._answers.get_nowait()
            except queue.Empty:
                return
            if answer[0] == "warning":
                self._tell(answer[1])
            else:
                self._end(answer)

    def _end(self, answer: tuple) -> None:
        """The worker is done, or died (a crash, or killed): said, with its last words."""
        self._gone = self._closed = True
        if answer[0] == "lost":
            last = b"".join(self._stderr).decode(errors="replace").strip().splitlines()[-1:]
            said = f": {last[0]}" if last else ""
            self._tell(f"tracking stopped: its process ended (exit {answer[1]}){said}")

    def _tell(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)

    def _feed(self) -> None:
        stdin = self.process.stdin
        while (item := self._outbox.get()) is not None:
            try:
                pickle.dump(item, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
            except (OSError, ValueError):  # the worker is gone: `_read` says so
                return
        with contextlib.suppress(OSError):
            stdin.close()  # the worker ends at the end of its input

    def _read(self) -> None:
        while True:
            try:
                answer = pickle.load(self.process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                self._answers.put(("lost", self.process.wait()))
                return
            self._answers.put(answer)
            if answer[0] == "done":
                return

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line)
