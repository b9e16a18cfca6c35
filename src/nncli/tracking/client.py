"""What a training command holds to track its run: the backends checked before training, then
written as each epoch ends, here or by a worker process.

What can be checked without importing a backend (installed, a store MLflow takes, a server
that answers) is checked before the run folder is claimed, and refused in one line. MLflow is
written by a worker (a plain interpreter, as the figure workers are): its import costs as much
CPU as torch's, and its writes may wait on a server, so the worker imports it while the command
imports torch and reads its data, and takes each epoch's rows through a pipe: written at once
where the pipe has room, else by a thread, so that training never waits on it. TensorBoard's
writer is written here, where torch is imported already: it costs a few tenths of a second to
import, and writes its files from a thread of its own. A backend that fails later (a full disk,
a server gone) is one warning line, and training goes on: the run folder holds everything the
backend would have shown.

Pickle is safe on these pipes: they join this process and the child it started.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nncli.config.tracking import TrackingConfig
from nncli.tracking.backends import BACKENDS, IN_WORKER, Backends

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
    """One run's tracking: the backends written here, and the worker writing the others."""

    def __init__(self, settings: dict[str, dict], warn: Callable[[str], None] | None):
        self.warn = warn
        self.here = Backends({b: s for b, s in settings.items() if not IN_WORKER[b]}, self._tell)
        self.worker = _Worker({b: s for b, s in settings.items() if IN_WORKER[b]}, self._tell)

    @classmethod
    def start(
        cls, config: TrackingConfig, name: str, warn: Callable[[str], None] | None
    ) -> Tracking | None:
        """Check each backend `config` turns on (a `UsageError` for one that cannot work), then
        start the worker, if one is written there; None when tracking is off."""
        if not config.backends:
            return None
        settings = {
            backend: importlib.import_module(BACKENDS[backend]).check(config, name)
            for backend in config.backends
        }
        return cls(settings, warn)

    def open(self, plan: Plan) -> None:
        """Open (or, resuming, reopen) the run's TensorBoard runs and MLflow runs."""
        self.here.load()
        self.here.open(plan)
        self.worker.send(("open", plan))

    def rows(self, models: list[int], rows: list[dict[str, float] | None]) -> None:
        """One epoch's history rows of these models (their indices in the plan)."""
        self.here.each("writing an epoch", "rows", models, rows)
        self.worker.send(("rows", models, rows))
        self.worker.say()

    def finish(
        self,
        status: str,
        finals: list[Final] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """End the runs: FINISHED with each model's `finals` (the rows not yet written, the
        final metrics, the files), or KILLED or FAILED; wait for the worker to be done, unless
        `stop` asks not to (Ctrl-C): then it finishes alone, after the command."""
        self.here.each("ending its runs", "finish", status, finals)
        self.worker.finish(status, finals, stop)

    def close(self) -> None:
        """Nothing opened (the run failed first): the worker ends at the end of its input."""
        self.worker.close()

    def _tell(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)


class _Worker:
    """The worker process (none when no backend is written there) and the pipes to it: fed at
    once or by a thread (`send`), so that training never waits on it; its answers read by
    another."""

    def __init__(self, settings: dict[str, dict], tell: Callable[[str], None]):
        self.tell = tell
        self._closed = self._gone = not settings  # nothing more to send; done, or died
        if not settings:
            return
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
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()  # pickled messages, then None
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self._stderr: collections.deque[bytes] = collections.deque(maxlen=20)
        self._lock = threading.Lock()
        self._queued = 1  # messages in the outbox the feeder has not yet written
        self._outbox.put(pickle.dumps(settings, protocol=pickle.HIGHEST_PROTOCOL))
        for target in (self._feed, self._read, self._drain_stderr):
            threading.Thread(target=target, daemon=True).start()

    def send(self, message: tuple) -> None:
        """Into the pipe now where it has room (an epoch's rows are a few hundred bytes), so
        that a command killed the moment after loses none of them; else queued for the feeder,
        so that training never waits on a worker that is slow to read."""
        if self._closed:
            return
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._queued == 0 and len(data) <= select.PIPE_BUF and self._room():
                with contextlib.suppress(OSError):  # the worker is gone: `_read` says so
                    os.write(self.process.stdin.fileno(), data)  # whole: at most PIPE_BUF
                return
            self._queued += 1
            self._outbox.put(data)

    def _room(self) -> bool:
        """Whether the pipe takes PIPE_BUF bytes without blocking."""
        return bool(select.select([], [self.process.stdin], [], 0)[1])

    def close(self) -> None:
        """No more to send: the worker ends once it has written what it was sent."""
        if not self._closed:
            self._closed = True
            self._outbox.put(None)

    def say(self) -> None:
        """The warnings the worker sent so far, said."""
        while not self._gone:
            try:
                answer = self._answers.get_nowait()
            except queue.Empty:
                return
            self._take(answer)

    def finish(self, status: str, finals: list | None, stop: Callable[[], bool] | None) -> None:
        self.send(("finish", status, finals))
        self.close()
        deadline = time.monotonic() + FINISH_SECONDS
        while not self._gone:
            if stop is not None and stop():
                self.tell(f"tracking left to finish alone (process {self.process.pid})")
                return
            if time.monotonic() > deadline:
                self.tell(f"tracking: not done after {FINISH_SECONDS} s; stopped")
                self.process.kill()
                break
            try:  # a stop request is seen within a tenth of a second
                self._take(self._answers.get(timeout=0.1))
            except queue.Empty:
                continue
        with contextlib.suppress(subprocess.TimeoutExpired, AttributeError):
            self.process.wait(timeout=10)

    def _take(self, answer: tuple) -> None:
        if answer[0] == "warning":
            self.tell(answer[1])
            return
        self._gone = self._closed = True  # done, or died (a crash, or killed)
        if answer[0] == "lost":
            last = b"".join(self._stderr).decode(errors="replace").strip().splitlines()[-1:]
            said = f": {last[0]}" if last else ""
            self.tell(f"tracking stopped: its process ended (exit {answer[1]}){said}")

    def _feed(self) -> None:
        stdin = self.process.stdin
        while (data := self._outbox.get()) is not None:
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError):  # the worker is gone: `_read` says so
                return
            with self._lock:
                self._queued -= 1
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
