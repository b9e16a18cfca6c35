"""Figures drawn in a worker process, so that a run's figures cost it little wall time.

matplotlib takes about half a second to import and a few tenths of a second per figure, while a
small run trains in less than a second. A `Drawer` that may draw figures at once starts one
worker as a command begins: it imports matplotlib while the command imports torch and reads its
data (one import: a second worker importing it too competed with torch's import for the CPUs,
measured slower on 2 cores), and once training is done it forks a drawing process per figure, up
to that many at once, while the command writes its other files. `wait` returns when every figure
is written (the report page embeds them), or raises the first figure's error as the command's own.

The worker is a plain interpreter (`python -c`, never a fork of the command: the command may hold
torch's threads) that reads length-prefixed pickled jobs on its stdin and answers each, in order,
on its stdout: None, or the exception the figure raised, with the characters it drew as boxes for
want of a font (the command warns of them once, report/fonts.py). Pickle is safe on these pipes:
they join this process and the child it started, and nothing else writes to them. The worker
holds no threads, so forking it is safe; it imports nothing of torch (what a figure shows is
computed by the command and handed over as arrays) and leaves Ctrl-C to the command; SIGTERM ends
it and its drawing processes between files (each figure is written whole or not at all). A figure
whose drawing process or worker died is drawn in the command's own process. Without a worker
(`NNCLI_FIGURE_WORKERS=0`, or no idle CPU) each figure is drawn where it is asked for.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nncli.errors import UsageError
from nncli.report import fonts

WORKERS_VARIABLE = "NNCLI_FIGURE_WORKERS"
MAX_AT_ONCE = 4  # a run draws 1 to 8 figures; a grid's few big ones bound it, not the forks
STOP_SECONDS = 5  # a worker told to stop has this long to finish the file it is writing
_SERVE = "from nncli.report.drawing import serve; serve()"
_LENGTH = struct.Struct("<Q")  # a job's length before its pickle, on the worker's stdin
_LOST = "lost"  # the worker's answer for a figure whose drawing process died


def figure_workers() -> int:
    """How many figures are drawn at once, in a worker: NNCLI_FIGURE_WORKERS, else none where
    no CPU is idle (the CPUs this process may use less the load average: on a busy machine a
    worker only competes with the command), else one per CPU, at most `MAX_AT_ONCE` (the
    command waits while they draw)."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not hasattr(os, "fork"):  # the worker forks its drawers
        value = "0"
    if value:
        if not value.isdigit() or int(value) > 16:
            raise UsageError(f"{WORKERS_VARIABLE}: a whole number from 0 to 16, got {value!r}")
        return int(value)
    cpus = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None) or (
        os.cpu_count() or 1
    )
    idle = cpus - os.getloadavg()[0] if hasattr(os, "getloadavg") else 0
    return min(MAX_AT_ONCE, cpus) if idle >= 0.5 else 0  # load 1.5 on 2 CPUs: still a worker


Job = tuple[Callable[..., None], tuple, dict]


class _Worker:
    """The drawing process, fed by a thread so that `draw` never waits on a busy worker."""

    def __init__(self, at_once: int) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # where `nncli` is imported from
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self.jobs: list[Job] = []  # sent and not yet answered, in order
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._outbox.put((sys.path, at_once))  # a plot's module imports there as here
        threading.Thread(target=self._feed, daemon=True).start()

    def _feed(self) -> None:
        while (item := self._outbox.get()) is not None:
            data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                self.process.stdin.write(_LENGTH.pack(len(data)) + data)
                self.process.stdin.flush()
            except (OSError, ValueError):  # the worker is gone: `answers` finds out
                return
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # the worker ends at the end of its input

    def send(self, job: Job) -> None:
        self.jobs.append(job)
        self._outbox.put(job)

    def answers(self) -> list[tuple[Job, tuple[BaseException | None, list[int]] | _Lost]]:
        """Each job sent and its answer (error or None, characters drawn as boxes); jobs whose
        drawing process or worker died come back with `_Lost`."""
        done = []
        for job in self.jobs:
            try:
                answer = pickle.load(self.process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                answer = _LOST
            done.append((job, _Lost() if answer == _LOST else answer))
        self.jobs = []
        return done

    def close(self) -> None:
        self._outbox.put(None)

    def stop(self) -> None:
        """End at once: SIGTERM, which the worker passes to its drawing processes, then reap it."""
        self.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:  # stuck outside Python (a full disk's write)
            self.process.kill()
            self.process.wait()


class _Lost(Exception):
    """A job whose drawing process died before answering: the command draws it itself."""


class Drawer:
    """Draws figures, up to `at_once` at a time in a worker, or (0) one by one in this process."""

    def __init__(self, at_once: int = 0):
        self._worker = _Worker(at_once) if at_once else None

    def draw(self, plot: Callable[..., None], /, *args: Any, **kwargs: Any) -> None:
        """Draw `plot(*args, **kwargs)`, a module-level function whose arguments are plain data
        (arrays, lists, strings): now, or in the worker."""
        if self._worker is None:
            plot(*args, **kwargs)
        else:
            self._worker.send((plot, args, kwargs))

    def wait(self) -> None:
        """Every figure asked for is written; the first that failed raises its error here."""
        failure = None
        for (plot, args, kwargs), answer in self._worker.answers() if self._worker else []:
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
        """End the worker: once idle after `wait`; at once otherwise (an error, a stop)."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.jobs:
            worker.stop()
        elif worker is not None:
            worker.close()

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve() -> None:
    """The worker's life: import matplotlib, then draw the jobs read from stdin, each in a
    process forked for it, up to the number the command allows at once, until stdin ends; answer
    them in the order they came."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides when to stop
    signal.signal(signal.SIGTERM, _exit_between_files)
    inbox, answers = _Inbox(sys.stdin.buffer.fileno()), sys.stdout.buffer
    sys.stdout = sys.stderr  # a figure's prints must not corrupt the answers
    sys.path[:], at_once = inbox.first()
    from nncli.report import plots

    plots.pyplot()
    fonts.hold_warnings()
    drawing: deque[_Drawing] = deque()  # in the order the jobs came
    try:
        while not inbox.ended or inbox.messages or drawing:
            running = [d for d in drawing if not d.done]
            while inbox.messages and len(running) < at_once:
                running.append(_Drawing(inbox.take()))
                drawing.append(running[-1])
            listen = not inbox.ended and len(running) < at_once
            watched = [d.fd for d in running] + ([inbox.fd] if listen else [])
            ready = select.select(watched, [], [])[0] if watched else []
            if inbox.fd in ready:
                inbox.read()
            for each in running:
                if each.fd in ready:
                    each.read()
            while drawing and drawing[0].done:
                answers.write(drawing.popleft().answer())
                answers.flush()
    finally:  # SIGTERM, or the command gone: no drawing process outlives the worker
        for each in drawing:
            each.end()
    # Every answer is written: end without Python's teardown of matplotlib, which a caller
    # reading the command's stderr (this process holds it too) to its end would wait for.
    sys.stderr.flush()
    os._exit(0)


class _Inbox:
    """Messages arriving on a pipe as a length and a pickle each, read without blocking on a
    message's part, unpickled when taken (a job's function imports from the path the first sets)."""

    def __init__(self, fd: int) -> None:
        self.fd, self.ended, self._bytes = fd, False, bytearray()
        self.messages: deque[bytes] = deque()

    def read(self) -> None:
        chunk = os.read(self.fd, 1 << 16)
        self.ended = not chunk
        self._bytes += chunk
        while len(self._bytes) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._bytes)
            if len(self._bytes) < _LENGTH.size + length:
                break
            self.messages.append(bytes(self._bytes[_LENGTH.size : _LENGTH.size + length]))
            del self._bytes[: _LENGTH.size + length]

    def take(self) -> Any:
        return pickle.loads(self.messages.popleft())

    def first(self) -> Any:
        while not self.messages and not self.ended:
            self.read()
        if not self.messages:
            raise SystemExit(0)  # the command ended before it said anything
        return self.take()


class _Drawing:
    """One figure drawn in a forked process, which pickles its answer into a pipe."""

    def __init__(self, job: Job) -> None:
        self.fd, write_end = os.pipe()
        self.pid, self.done, self._bytes = os.fork(), False, bytearray()
        if self.pid == 0:  # the drawing process: never returns into the worker's loop
            code = 1
            try:
                os.close(self.fd)
                _write_all(write_end, _answer(job))
                code = 0
            except SystemExit as stop:  # SIGTERM, after the atomic write cleaned up
                code = stop.code if isinstance(stop.code, int) else 1
            finally:
                os._exit(code)
        os.close(write_end)

    def read(self) -> None:
        chunk = os.read(self.fd, 1 << 16)
        self._bytes += chunk
        if not chunk:
            self.done = True
            os.close(self.fd)
            os.waitpid(self.pid, 0)

    def answer(self) -> bytes:
        return bytes(self._bytes) or pickle.dumps(_LOST)  # it died before answering

    def end(self) -> None:
        if not self.done:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)
                os.waitpid(self.pid, 0)


def _answer(job: Job) -> bytes:
    plot, args, kwargs = job
    try:
        plot(*args, **kwargs)
        answer = None
    except Exception as exc:  # the command raises it as its own
        answer = exc
    missing = fonts.held()
    try:
        return pickle.dumps((answer, missing))
    except Exception:  # one that does not pickle: its words do
        return pickle.dumps((RuntimeError(f"{type(answer).__name__}: {answer}"), missing))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _exit_between_files(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the atomic write: no temporary file stays
