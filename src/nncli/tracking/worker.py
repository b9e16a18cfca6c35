"""The tracking worker's life: import its backends (MLflow), open the run's runs, write each
epoch's rows as they come, end the runs (`backends.Backends`: a backend that fails is one
warning and is dropped).

It reads pickled messages on stdin and answers on stdout: ("warning", line) at any time, and
("done",) once the runs are ended. Pickle is safe on these pipes: they join the command and the
child it started, and nothing else writes to them. It leaves Ctrl-C and SIGTERM to the command,
which tells it how the run ended; if the command dies without a word, the end of its input ends
the runs as KILLED.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
from typing import BinaryIO

from nncli.tracking.backends import Backends


def _answer(answers: BinaryIO, message: tuple) -> None:
    try:
        pickle.dump(message, answers)
        answers.flush()
    except OSError:  # the command is gone: nobody to tell
        pass


def serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides when the run ends
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's prints must not corrupt the answers
    logging.disable(logging.WARNING)  # MLflow's and Alembic's notices: failures are said here
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # a server gone: not minutes
    backends = Backends(pickle.load(source), lambda line: _answer(answers, ("warning", line)))
    backends.load()  # while the command imports torch and reads its data
    while True:
        try:
            message = pickle.load(source)
        except EOFError:  # the command ended without a word: killed
            message = ("finish", "KILLED", None)
        if message[0] == "open":
            backends.open(message[1])
        elif message[0] == "rows":
            backends.each("writing an epoch", "rows", *message[1:])
        elif message[0] == "finish":
            backends.each("ending its runs", "finish", *message[1:])
            _answer(answers, ("done",))
            # Everything is written (MLflow's client writes as it is called): the seconds of
            # MLflow's and SQLAlchemy's teardown would only keep the command waiting.
            os._exit(0)
