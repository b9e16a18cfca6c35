"""The backend registry, and a set of backends that fail one at a time: a backend whose import,
opening or writing raises is one warning and is dropped, the others go on, and nothing reaches
the run. Used in the command's process and in the worker's alike.

Each backend's module has `check(config, name)` (before training, in the command's process,
without importing the backend's library: its settings, or a `UsageError`), `load()` (the
import) and `Log(settings, plan, warn)` with `rows(models, rows)` and `finish(status, finals)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from nncli.errors import clipped

# By name as `tracking:` turns them on.
BACKENDS = {"tensorboard": "nncli.tracking.tensorboard", "mlflow": "nncli.tracking.mlflow"}
# Written by the worker process, not the command's: MLflow's import alone costs a small run's
# time (as much CPU as torch's). TensorBoard's writer costs a few tenths of a second to import
# where torch already is, and writes its files from a thread of its own.
IN_WORKER = {"tensorboard": False, "mlflow": True}
MESSAGE_CHARS = 300


class Backends:
    """The backends `settings` names, each written until it fails."""

    def __init__(self, settings: dict[str, dict], warn: Callable[[str], None]):
        self.settings = settings
        self.warn = warn
        self.modules: dict[str, Any] = {}
        self.logs: dict[str, Any] = {}

    def guarded(self, backend: str, action: str, work: Callable[[], Any]) -> Any:
        """`work()`; a failure is one warning, and the backend is dropped."""
        try:
            return work()
        except Exception as exc:  # any library's error: said, never raised into the run
            self.modules.pop(backend, None)
            self.logs.pop(backend, None)
            reason = clipped(_reason(exc), MESSAGE_CHARS)
            self.warn(f"tracking to {backend} stopped ({action}: {reason}); training goes on,"
                      " the run folder has everything")  # fmt: skip
            return None

    def load(self) -> None:
        for backend in self.settings:
            self.modules[backend] = module = importlib.import_module(BACKENDS[backend])
            self.guarded(backend, "importing it", module.load)

    def open(self, plan: object) -> None:
        for backend, module in list(self.modules.items()):
            settings = self.settings[backend]
            log = self.guarded(backend, "opening its runs",
                               lambda m=module, s=settings: m.Log(s, plan, self.warn))  # fmt: skip
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
