"""Atomic writes: a reader (or a crash) sees the old file or the new one, never half of one; and
what is not a regular file is never replaced."""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
from pathlib import Path

from nncli.errors import UsageError


def atomic_write_bytes(path: Path, data: bytes, *, named_by_user: bool = False) -> None:
    """Write `data` to `path` so that a reader (or a crash) sees the old file or the new one.

    The data goes to a temporary file in the same folder, fsynced, then renamed into place; a new
    file gets the umask's mode (0666 & ~umask), an overwritten one keeps its mode. A folder is
    refused. Files in a run folder (the default) are always replaced by a regular file. A path the
    user named (`named_by_user`) is written the way a shell's `>` would write it, never replaced:
    through a symlink to its target, straight into a device or FIFO (`/dev/stdout`), and in place
    into a hard-linked file, so that every link sees the new contents.
    """
    path = Path(path)
    try:
        info = os.stat(path) if named_by_user else os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
    kind = None if info is None else _kind(info.st_mode)
    if kind in ("a folder", "a disk", "a socket"):
        raise UsageError(f"{path}: is {kind}; give a file name")
    if named_by_user:
        open_file = _open_file_link(path)
        if open_file is not None or kind not in (None, "a regular file"):
            return _write_through(open_file or path, data)
        if info is not None and info.st_nlink > 1:
            return _write_in_place(path, data)
        path = Path(os.path.realpath(path))  # a symlink's target, even one not yet created
    keep_mode = info is not None and kind == "a regular file"
    _write_and_rename(path, data, stat.S_IMODE(info.st_mode) if keep_mode else None)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS.items() if test(mode)), "a device")


_KINDS = {
    stat.S_ISREG: "a regular file",
    stat.S_ISDIR: "a folder",
    stat.S_ISLNK: "a symlink",
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISSOCK: "a socket",
    stat.S_ISBLK: "a disk",
}


def _write_and_rename(path: Path, data: bytes, mode: int | None) -> None:
    tmp, fd = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # disk full, quota, I/O error: the previous file stays as it was
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temporary(path: Path) -> tuple[Path, int]:
    """A new file beside `path`, created with mode 0666 so that the kernel applies the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"{path}: cannot write here: {exc.strerror}") from None
    raise UsageError(f"{path}: cannot write here: no free temporary file name")


def _write_in_place(path: Path, data: bytes) -> None:
    """Rewrite a hard-linked file's contents; space is reserved first, so a full disk leaves it
    untouched (where the file system can reserve space)."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "wb") as handle:
            try:
                os.posix_fallocate(handle.fileno(), 0, max(len(data), 1))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
            handle.write(data)
            handle.truncate(len(data))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _write_through(path: Path, data: bytes) -> None:
    """Write into a device, a FIFO or an open file (this process's own descriptor for
    `/dev/stdout`, so `>>` still appends); a FIFO nobody reads is refused, not waited on."""
    try:
        if os.path.realpath(path.parent) == f"/proc/{os.getpid()}/fd" and path.name.isdigit():
            fd = os.dup(int(path.name))
        else:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            os.set_blocking(fd, True)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise UsageError(f"{path}: cannot write: no process is reading it") from None
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


_FD_FOLDER = re.compile(r"^/proc/[^/]+/(task/[^/]+/)?fd$")


def _open_file_link(path: Path) -> Path | None:
    """Where `path` reaches a process's open file (`/dev/stdout` -> `/proc/self/fd/1`): such a
    file is written through, as a shell would, even when it is a regular one (`> out.csv`)."""
    for _ in range(40):  # the kernel's limit on links followed
        if _FD_FOLDER.match(os.path.realpath(path.parent)):
            return path
        if not path.is_symlink():
            return None
        path = path.parent / os.readlink(path)
    return None


def atomic_write_text(path: Path, text: str, *, named_by_user: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), named_by_user=named_by_user)


def atomic_write_json(path: Path, data: object) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
