"""The tracking worker's life: import the backends, open the run's runs, write each epoch's rows
as they come, end the runs; a backend that fails says so once and is dropped, the others go on.

It reads pickled messages on stdin and answers on stdout: ("warning", line) at any time, and
("done",) once the runs are ended. It leaves Ctrl-C and SIGTERM to the command, which tells it
how the run ended; if the command dies without a word, the end of its input ends the runs as
KILLED.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import sys
from typing import Any, BinaryIO

from nncli.errors import clipped
from nncli.tracking.client import BACKENDS

MESSAGE_CHARS = 300


class _Worker:
    def __init__(self, settings: dict[str, dict], answers: BinaryIO):
        self.settings = settings
        self.answers = answers
        self.modules: dict[str, Any] = {}
        self.logs: dict[str, Any] = {}

    def say(self, message: tuple) -> None:
        try:
            pickle.dump(message, self.answers)
            self.answers.flush()
        except OSError:  # the command is gone: nobody to tell
            pass

    def warn(self, text: str) -> None:
        self.say(("warning", text))

    def guarded(self, backend: str, action: str, work) -> Any:
        """`work()`; a failure is one warning, and the backend is dropped."""
        try:
            return work()
        except Exception as exc:  # any library's error: said, never raised into the run
            self.modules.pop(backend, None)
            self.logs.pop(backend, None)
            reason = clipped(_reason(exc), MESSAGE_CHARS)
            self.say(("warning", f"tracking to {backend} stopped ({action}: {reason});"
                                 " training goes on, the run folder has everything"))  # fmt: skip
            return None

    def load(self) -> None:
        for backend in self.settings:
            self.modules[backend] = module = importlib.import_module(BACKENDS[backend])
            self.guarded(backend, "importing it", module.load)

    def open(self, plan) -> None:
        for backend, module in list(self.modules.items()):
            log = self.guarded(backend, "opening its runs",
                               lambda b=backend, m=module: m.Log(self.settings[b], plan,
                                                                 self.warn))  # fmt: skip
            if log is not None:
                self.logs[backend] = log

    def each(self, action: str, method: str, *args: object) -> None:
        """`log.method(*args)` of every backend still writing."""
        for backend, log in list(self.logs.items()):
            self.guarded(backend, action, lambda log=log: getattr(log, method)(*args))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides when the run ends
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's prints must not corrupt the answers
    logging.disable(logging.WARNING)  # MLflow's and Alembic's notices: failures are said here
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # a server gone: not minutes
    worker = _Worker(pickle.load(source), answers)
    worker.load()  # while the command imports torch and reads its data
    while True:
        try:
            message = pickle.load(source)
        except EOFError:  # the command ended without a word: killed
            message = ("finish", "KILLED", None)
        kind = message[0]
        if kind == "open":
            worker.open(message[1])
        elif kind == "rows":
            worker.each("writing an epoch", "rows", *message[1:])
        elif kind == "finish":
            worker.each("ending its runs", "finish", *message[1:])
            worker.say(("done",))
            return
