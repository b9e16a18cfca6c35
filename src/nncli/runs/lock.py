"""Claiming a run folder and holding its lock: exactly one process wins a new name or an empty
`--out`, and the kernel drops the lock when that process dies, however it dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from nncli.errors import UsageError
from nncli.runs.layout import LOCK_FILE


def claim(path: Path, *, explicit: bool) -> int:
    """Create and lock `path`; an explicit one may exist if empty. Returns the lock's fd."""
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        if not explicit:
            raise
        if not path.is_dir():
            raise UsageError(f"{path}: --out must be a new or empty folder, not a file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the run folder: {exc.strerror}") from None
    had_lock = (path / LOCK_FILE).exists()
    lock_fd = lock(path)
    if any(entry != LOCK_FILE for entry in os.listdir(path)):  # checked under the lock
        if not had_lock:
            (path / LOCK_FILE).unlink(missing_ok=True)  # leave the folder as it was
        unlock(lock_fd)
        raise UsageError(f"{path}: --out must be a new or empty folder; it would overwrite")
    return lock_fd


def lock(path: Path) -> int:
    """Hold the folder's lock (and write our pid in it), or say which process holds it."""
    lock = path / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise UsageError(f"{path}: cannot lock the run folder: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        process = f" (process {holder})" if holder.isdigit() else ""
        raise UsageError(
            f"{path}: still running{process}: another nncli process is using this folder"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def unlock(fd: int) -> None:
    os.close(fd)  # closing drops the flock
