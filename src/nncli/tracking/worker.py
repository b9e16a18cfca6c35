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
import queue
import signal
import sys
import threading
from typing import BinaryIO

from nncli.tracking.backends import Backends


def _answer(answers: BinaryIO, message: tuple) -> None:
    try:
        pickle.dump(message, answers)
        answers.flush()
    except OSError:  # the command is gone: nobody to tell
        pass


def _receive(source: BinaryIO, inbox: queue.Queue) -> None:
    """Every message as it arrives; at the end of the input (the command ended without a word:
    killed), the runs' end as KILLED."""
    while True:
        try:
            inbox.put(pickle.load(source))
        except EOFError:
            inbox.put(("finish", "KILLED", None))
            return


def serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command decides when the run ends
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's prints must not corrupt the answers
    logging.disable(logging.WARNING)  # MLflow's and Alembic's notices: failures are said here
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # a server gone: not minutes
    backends = Backends(pickle.load(source), lambda line: _answer(answers, ("warning", line)))
    inbox: queue.Queue = queue.Queue()
    # Read from the start, while MLflow imports: a pipe left full for those seconds would hold
    # the command's sends in its own process, where a kill loses them.
    threading.Thread(target=_receive, args=(source, inbox), daemon=True).start()
    backends.load()  # while the command imports torch and reads its data
    while True:
        message = inbox.get()
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
