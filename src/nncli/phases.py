"""Where a command's time goes: named phase boundaries, recorded only when `NNCLI_PHASES` names a
file, written there as JSON when the process exits (benchmarks/commands.py reads it).

`mark(name)` says that the phase called `name` ends now and the next begins: "imports" once a
command's own imports are done, "data" once its data is ready, and so on. A name marked twice
(the imports before the data and those before training) is one phase, its parts summed. Times are
`time.perf_counter()`, the system's monotonic clock on Linux, so a parent process that noted its
own clock before starting this one can count the interpreter's start-up before the first mark and
its teardown after the last. Off (the variable unset), `mark` is one comparison.
"""

from __future__ import annotations

import atexit
import os
import time

_PATH = os.environ.get("NNCLI_PHASES") or None
_marks: list[tuple[str, float]] = []


def mark(name: str) -> None:
    """The phase `name` ends now."""
    if _PATH is None:
        return
    if not _marks:
        atexit.register(_write)
    _marks.append((name, time.perf_counter()))


def _write() -> None:
    import json

    ended = time.perf_counter()
    record = {"clock": "perf_counter", "marks": _marks, "exit": ended}
    try:
        with open(_PATH, "w", encoding="utf-8") as handle:  # type: ignore[arg-type]
            json.dump(record, handle)
    except OSError:  # a measurement aid: never the command's failure
        pass
