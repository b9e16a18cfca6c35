"""A run folder's lock file: held (flock) by the one process that runs the folder.

The kernel drops a flock when its process dies, however it dies, so a lock is never stale. The
file is nncli's own: it is created exclusively (O_EXCL) in a folder nncli has just claimed, and
an existing one is used only when it is a regular file with a single link. So a `.lock` that is
a symlink, a hard link to a user's file, a FIFO or a device is refused, never written through,
and a refused `--out` leaves every file as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import time
from pathlib import Path

from nncli.errors import UsageError, WriteError
from nncli.runs.layout import LOCK_FILE

# Opened without following a symlink, and without blocking on a FIFO.
_OPEN_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_PID_DIGITS = 32  # a pid is at most this long; more is not our lock's content


def claim(path: Path, *, explicit: bool) -> tuple[int, bool]:
    """Create and lock `path`, or lock an empty one named by `--out` (`explicit`).

    Exactly one process wins a new name or an empty folder. Returns the lock's fd, and whether
    this process made the folder. Refuses, touching nothing, a folder that holds anything
    already (a `.lock` alone included): it is another run's or the user's. A lock that cannot be
    written (a full disk) leaves the folder as it was found, or none.
    """
    try:
        path.mkdir(parents=True)
        made = True
    except FileExistsError:
        if not explicit:
            raise
        if not path.is_dir():
            raise UsageError(f"{path}: --out must be a new or empty folder, not a file") from None
        made = False
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the run folder: {exc.strerror}") from None
    with contextlib.suppress(FileNotFoundError):
        fd = _open_existing(path)
        _refuse_if_held(path, fd)
        os.close(fd)
        raise UsageError(f"{path}: --out must be a new or empty folder; it would overwrite")
    if any(os.scandir(path)):
        raise UsageError(f"{path}: --out must be a new or empty folder; it would overwrite")
    try:
        fd = os.open(path / LOCK_FILE, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # another process is claiming the folder at this moment
        with contextlib.suppress(FileNotFoundError):
            _refuse_if_held(path, _open_existing(path))
        raise UsageError(
            f"{path}: --out must be a new or empty folder; it would overwrite"
        ) from None
    except OSError as exc:
        if made:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise UsageError(f"{path}: cannot lock the run folder: {exc.strerror}") from None
    # Ours alone: a process that looked at it meanwhile held it for an instant and gave it up.
    fcntl.flock(fd, fcntl.LOCK_EX)
    if any(entry.name != LOCK_FILE for entry in os.scandir(path)):  # written into meanwhile
        with contextlib.suppress(OSError):
            (path / LOCK_FILE).unlink()
        os.close(fd)
        raise UsageError(f"{path}: --out must be a new or empty folder; it would overwrite")
    try:
        _write_pid(fd)
    except OSError as exc:
        unclaim(path, fd, made=made, written=set())
        raise WriteError(f"{path / LOCK_FILE}: cannot write: {exc.strerror}") from None
    return fd, made


def unclaim(path: Path, fd: int, *, made: bool, written: set[str]) -> None:
    """Give a claimed folder back: remove the `written` names in it (files or folders) and the
    lock, then the folder itself if this process `made` it (only if nothing else is in it)."""
    for name in written - {LOCK_FILE}:
        target = path / name
        with contextlib.suppress(OSError):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        (path / LOCK_FILE).unlink(missing_ok=True)
    unlock(fd)
    if made:
        with contextlib.suppress(OSError):
            path.rmdir()


def lock(path: Path) -> int:
    """Lock a folder being resumed: its own lock file, or a new one if it lost it."""
    try:
        fd = _open_existing(path)
    except FileNotFoundError:
        try:
            fd = os.open(path / LOCK_FILE, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise UsageError(f"{path}: cannot lock the run folder: {exc.strerror}") from None
    _refuse_if_held(path, fd)
    try:
        _write_pid(fd)
    except OSError as exc:  # a full disk: the folder stays as it was
        os.close(fd)
        raise WriteError(f"{path / LOCK_FILE}: cannot write: {exc.strerror}") from None
    return fd


def take_when_free(path: Path, wait_s: float) -> int | None:
    """The folder's lock, taken once no process holds it, waiting at most `wait_s` seconds (a
    process that dies drops it as the kernel closes its files, which takes a moment); None while
    another process holds it, or when there is no usable lock file."""
    try:
        fd = _open_existing(path)
    except (FileNotFoundError, UsageError):
        return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            os.close(fd)
            return None
        _write_pid(fd)
        return fd


def unlock(fd: int) -> None:
    os.close(fd)  # closing drops the flock


def holder(path: Path) -> int | None:
    """The pid of the live process that holds the folder's lock (0 when it wrote none), or None
    when none does; a lock file that cannot be used is a UsageError."""
    try:
        fd = _open_existing(path)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, _PID_DIGITS, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else 0
    finally:
        os.close(fd)
    return None


def abandoned(path: Path) -> bool:
    """Whether no live process holds the folder's lock; an unusable lock file says nothing,
    so False."""
    try:
        return holder(path) is None
    except UsageError:
        return False


def _open_existing(path: Path) -> int:
    """The folder's lock file, opened only if it is a regular file with one link."""
    lock_file = path / LOCK_FILE
    try:
        fd = os.open(lock_file, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a symlink (ELOOP), a folder, no permission
        raise UsageError(f"{lock_file}: cannot use this lock file: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        what = "has other links" if stat.S_ISREG(info.st_mode) else "is not a regular file"
        raise UsageError(
            f"{lock_file}: {what}, so it is not nncli's lock; nncli leaves it untouched"
        )
    return fd


def _refuse_if_held(path: Path, fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, _PID_DIGITS, 0).decode("ascii", "replace").strip()
        os.close(fd)
        process = f" (process {text})" if text.isdigit() else ""
        raise UsageError(
            f"{path}: still running{process}: another nncli process is using this folder"
        ) from None


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
