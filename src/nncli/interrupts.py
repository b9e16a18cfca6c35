"""Ctrl-C, SIGTERM and a closed output pipe as a request to stop, not a crash.

Before training starts (reading the config, loading data) a signal ends the process at once:
there is nothing to save, and a stuck read must not outlive `timeout` or `docker stop`. Once
training has asked whether to stop, a signal becomes a request honoured at the next step
boundary, where a resumable state is saved, and between the files a finished run writes.
However the process ends, `held_signals` lets `run.json` say so first.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class SignalExit(KeyboardInterrupt):
    """A signal that ends the process at once: before training, or a second Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequest:
    """Asked before every training step and before each file a trained run writes; true once a
    stop signal or a closed pipe arrived."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.training = False  # set by the first question: signals are requests from then on

    def __call__(self) -> bool:
        self.training = True
        return self.signum is not None

    def pipe_closed(self) -> None:
        """The reader of our output left (`nncli train ... | head`): stop as if signalled."""
        if self.signum is None:
            self.signum = signal.SIGPIPE

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM, 141 for a closed pipe: 128 plus the signal number."""
        return 128 + (self.signum or signal.SIGINT)


_held: list[int] | None = None  # the signals that came while held, or None when not holding


@contextmanager
def held_signals() -> Iterator[None]:
    """A signal that would end the process at once (before training, a second Ctrl-C) waits
    until the block ends: for the few milliseconds `run.json` takes to say how a run ended, so
    that no quit leaves it saying `running`. Stop requests are not held: they are only noted."""
    global _held
    if _held is not None:  # already held by an outer block
        yield
        return
    _held = []
    try:
        yield
    finally:
        held, _held = _held, None
        if held:
            raise SignalExit(held[0])


def _quit(signum: int) -> None:
    """End the process at once with `signum`, unless `held_signals` holds it until its end."""
    if _held is not None:
        _held.append(signum)
        return
    raise SignalExit(signum)


@contextmanager
def stop_on_signals(*, launched: bool = False, announce: bool = True) -> Iterator[StopRequest]:
    """SIGINT or SIGTERM stop at once before training and at a step boundary during it.

    In a torchrun launch (`launched`) a second Ctrl-C does not quit at once: torchrun passes
    the terminal's Ctrl-C on to its processes, so each one gets it twice, and every rank must
    reach the step where they stop together. Only the process that `announce`s says so.
    """
    request = StopRequest()

    def handle(signum: int, frame: object) -> None:
        if not request.training:
            return _quit(signum)
        if request.signum is not None and signum == signal.SIGINT and not launched:
            if _held is None:  # a third Ctrl-C kills, unless run.json is being written
                signal.signal(signal.SIGINT, signal.SIG_DFL)
            return _quit(signum)  # files are written atomically, so nothing is half-written
        first = request.signum is None
        request.signum = signum
        if not announce or (not first and launched):
            return
        name = signal.Signals(signum).name
        then = "every process stops" if launched else "stopping"
        again = "" if launched else "; Ctrl-C again to quit at once"
        with contextlib.suppress(OSError):  # stderr may be a closed pipe too
            print(
                f"\n{name}: {then} at the next training step (or before the next file of the"
                f" results) and saving a resumable checkpoint{again}",
                file=sys.stderr,
                flush=True,
            )

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
