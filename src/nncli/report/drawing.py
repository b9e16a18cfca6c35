"""Figures drawn in worker processes, so that a run's figures cost it little wall time.

matplotlib takes about half a second to import and a few tenths of a second per figure, while a
small run trains in less than a second. A `Drawer` with workers starts them as a command begins:
they import matplotlib while the command imports torch and reads its data, and they draw the
figures side by side once training is done, while the command writes its other files. `wait`
returns when every figure is written (the report page embeds them), or raises the first
figure's error as the command's own.

A worker is a plain interpreter (`python -c`, never a fork: the command may hold torch's
threads) that reads pickled jobs on its stdin and answers each on its stdout: None, or the
exception the figure raised, with the characters it drew as boxes for want of a font (the
command warns of them once, report/fonts.py). Pickle is safe on these pipes: they join this
process and the child it started, and nothing else writes to them. A worker imports nothing
of torch (what a figure shows is computed by the command and handed over as arrays) and leaves
Ctrl-C to the command; SIGTERM ends it between files (each figure is written whole or not at
all). A worker that dies leaves its figures to be drawn in the command's own process. Without
workers (`NNCLI_FIGURE_WORKERS=0`, or no idle CPU) each figure is drawn where it is asked for.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nncli.errors import UsageError
from nncli.report import fonts

WORKERS_VARIABLE = "NNCLI_FIGURE_WORKERS"
MAX_WORKERS = 2  # a run draws 1 to 8 figures; more workers cost more than they draw
STOP_SECONDS = 5  # a worker told to stop has this long to finish the file it is writing
_SERVE = "from nncli.report.drawing import serve; serve()"


def figure_workers() -> int:
    """How many processes draw figures: NNCLI_FIGURE_WORKERS, else one per idle CPU (the CPUs
    this process may use less the load average), at most `MAX_WORKERS`: on a busy machine a
    worker only competes with the command for a CPU."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if value:
        if not value.isdigit() or int(value) > 16:
            raise UsageError(f"{WORKERS_VARIABLE}: a whole number from 0 to 16, got {value!r}")
        return int(value)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    idle = (cpus or 1) - os.getloadavg()[0] if hasattr(os, "getloadavg") else 0
    return max(0, min(MAX_WORKERS, round(idle)))  # load 1.0 on 2 CPUs: one worker, not none


Job = tuple[Callable[..., None], tuple, dict]


class _Worker:
    """One drawing process, fed by a thread so that `draw` never waits on a busy worker."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # where `nncli` is imported from
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self.jobs: list[Job] = []  # sent and not yet answered, in order
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._outbox.put(sys.path)  # so that a plot's module imports in the worker as here
        threading.Thread(target=self._feed, daemon=True).start()

    def _feed(self) -> None:
        while (item := self._outbox.get()) is not None:
            try:
                pickle.dump(item, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
            except (OSError, ValueError):  # the worker is gone: `answers` finds out
                return
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # the worker ends at the end of its input

    def send(self, job: Job) -> None:
        self.jobs.append(job)
        self._outbox.put(job)

    def answers(self) -> list[tuple[Job, tuple[BaseException | None, list[int]] | _Lost]]:
        """Each job sent and its answer (error or None, characters drawn as boxes); jobs a dead
        worker left unanswered come back with `_Lost`."""
        done = []
        for job in self.jobs:
            try:
                answer = pickle.load(self.process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                answer = _Lost()
            done.append((job, answer))
        self.jobs = []
        return done

    def close(self) -> None:
        self._outbox.put(None)

    def stop(self) -> None:
        """End at once: SIGTERM, which the worker takes between files, then reap it."""
        self.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:  # stuck outside Python (a full disk's write)
            self.process.kill()
            self.process.wait()


class _Lost(Exception):
    """A job whose worker died before answering: the command draws it itself."""


class Drawer:
    """Draws figures, in `workers` processes or (0) in this one."""

    def __init__(self, workers: int = 0):
        self._workers = [_Worker() for _ in range(workers)]

    def draw(self, plot: Callable[..., None], /, *args: Any, **kwargs: Any) -> None:
        """Draw `plot(*args, **kwargs)`, a module-level function whose arguments are plain data
        (arrays, lists, strings): now, or in the worker with the fewest figures waiting."""
        if not self._workers:
            plot(*args, **kwargs)
            return
        min(self._workers, key=lambda worker: len(worker.jobs)).send((plot, args, kwargs))

    def wait(self) -> None:
        """Every figure asked for is written; the first that failed raises its error here."""
        failure = None
        for worker in self._workers:
            for (plot, args, kwargs), answer in worker.answers():
                if isinstance(answer, _Lost):
                    plot(*args, **kwargs)
                    continue
                answer, missing = answer
                if missing:  # characters the worker drew as boxes: said once, here
                    fonts.warn_missing(missing)
                if answer is not None and failure is None:
                    failure = answer
        if failure is not None:
            raise failure

    def close(self) -> None:
        """End the workers: once idle after `wait`; at once otherwise (an error, a stop)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.jobs:
                worker.stop()
            else:
                worker.close()

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve() -> None:
    """A worker's life: import matplotlib, then draw each job read from stdin until its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides when to stop
    signal.signal(signal.SIGTERM, _exit_between_files)
    source, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a figure's prints must not corrupt the answers
    sys.path[:] = pickle.load(source)
    from nncli.report import plots

    plots.pyplot()
    fonts.hold_warnings()
    while True:
        try:
            plot, args, kwargs = pickle.load(source)
        except EOFError:
            return
        try:
            plot(*args, **kwargs)
            answer = None
        except Exception as exc:  # the command raises it as its own
            answer = exc
        missing = fonts.held()
        try:
            data = pickle.dumps((answer, missing))
        except Exception:  # one that does not pickle: its words do
            data = pickle.dumps((RuntimeError(f"{type(answer).__name__}: {answer}"), missing))
        answers.write(data)
        answers.flush()


def _exit_between_files(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the atomic write: no temporary file stays
