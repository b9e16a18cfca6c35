"""Ctrl-C and SIGTERM as a request to stop at the next step boundary, not a crash."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """Asked before every training step; true once a stop signal has arrived."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM: 128 plus the signal number, as shells report."""
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """The first SIGINT or SIGTERM asks to stop; a second Ctrl-C quits at once."""
    request = StopRequest()

    def handle(signum: int, frame: object) -> None:
        if request.signum is not None and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            raise KeyboardInterrupt  # files are written atomically, so nothing is half-written
        request.signum = signum
        name = signal.Signals(signum).name
        print(
            f"\n{name}: stopping at the next training step (if training is still running)"
            " and saving a resumable checkpoint; Ctrl-C again to quit at once",
            file=sys.stderr,
            flush=True,
        )

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
