"""Files in and out: atomic writes that never replace what is not a regular file, reads that
refuse anything but a bounded regular file, and strict JSON."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from pathlib import Path

from nncli.errors import UsageError, WriteError

MiB = 1 << 20
# What nncli reads of the small files in a run folder (run.json, metrics.json, summary.json).
JSON_LIMIT = 8 * MiB


def atomic_write_bytes(path: Path, data: bytes, *, named_by_user: bool = False) -> None:
    """Write `data` to `path` so that a reader (or a crash) sees the old file or the new one.

    The data goes to a temporary file in the same folder, fsynced, then renamed into place; a new
    file gets the umask's mode (0666 & ~umask), an overwritten one keeps its mode. A folder is
    refused. Files in a run folder (the default) are always replaced by a regular file. A path the
    user named (`named_by_user`) is written the way a shell's `>` would write it, never replaced:
    through a symlink to its target, straight into a device or FIFO (`/dev/stdout`), and in place
    into a hard-linked file, so that every link sees the new contents.
    """
    how, target, mode = _plan(Path(path), named_by_user)
    if how is not None:
        return how(target, data)
    _write_and_rename(target, data, mode)


def atomic_write_all(files: dict[Path, bytes], *, named_by_user: bool = False) -> None:
    """Write every one of `files` or none, each as `atomic_write_bytes` would.

    Every file is checked, then written to its temporary file; only once all of them are
    written (a full disk found) are they renamed into place, so a failure leaves every file as
    it was. A device, FIFO or hard-linked file the user named is written through, after the
    others' temporary files and before their renames.
    """
    plans = [(_plan(Path(path), named_by_user), data) for path, data in files.items()]
    staged: list[tuple[Path, Path]] = []
    try:
        for (how, target, mode), data in plans:
            if how is None:
                staged.append((_stage(target, data, mode), target))
        for (how, target, _), data in plans:
            if how is not None:
                how(target, data)
        for tmp, target in staged:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)  # those renamed already are gone
        raise


def _plan(path: Path, named_by_user: bool):
    """How `path` is written: (a writer, the path) for a file written through or in place, or
    (None, the path to replace, the mode to keep) for a file written and renamed."""
    try:
        info = os.stat(path) if named_by_user else os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror}") from None
    kind = None if info is None else _kind(info.st_mode)
    if kind in ("a folder", "a disk", "a socket"):
        raise UsageError(f"{path}: is {kind}; give a file name")
    if named_by_user:
        open_file = _open_file_link(path)
        if open_file is not None or kind not in (None, "a regular file"):
            return _write_through, open_file or path, None
        if info is not None and info.st_nlink > 1:
            return _write_in_place, path, None
        path = Path(os.path.realpath(path))  # a symlink's target, even one not yet created
    keep_mode = info is not None and kind == "a regular file"
    return None, path, stat.S_IMODE(info.st_mode) if keep_mode else None


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
    tmp = _stage(path, data, mode)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stage(path: Path, data: bytes, mode: int | None) -> Path:
    """`data` in a new temporary file beside `path`, fsynced: ready to be renamed into place."""
    tmp, fd = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:  # disk full, quota, I/O error: the previous file stays as it was
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _create_temporary(path: Path) -> tuple[Path, int]:
    """A new file beside `path`, created with mode 0666 so that the kernel applies the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        # os.urandom, not `secrets`: importing it costs 12 ms of every command's start
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"{path}: cannot write here: {exc.strerror}") from None
    raise WriteError(f"{path}: cannot write here: no free temporary file name")


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
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None


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
            raise WriteError(f"{path}: cannot write: no process is reading it") from None
        raise WriteError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None


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
    atomic_write_text(path, to_json(data, indent=2) + "\n")


def to_json(data: object, *, indent: int | None = None) -> str:
    """Strict JSON (RFC 8259): JSON has no NaN or infinity, so such floats become null."""
    return json.dumps(_finite(data), indent=indent, allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def read_regular_bytes(
    path: Path, *, limit: int, what: str, follow_symlinks: bool = True, head: int | None = None
) -> bytes:
    """The contents of `path` if it is a regular file of at most `limit` bytes; with `head`, only
    its first `head` bytes (a header to check before the rest is read).

    Anything else is a UsageError naming the file, found before a byte is read: a folder, device
    or FIFO (opened without blocking, so a FIFO cannot hang the open), a file over `limit` bytes,
    and, unless `follow_symlinks`, a symlink (nncli never writes one into a run folder).
    """
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        # Checked before opening too: opening some devices has effects of its own.
        _check_regular(path, os.stat(path) if follow_symlinks else os.lstat(path), limit, what)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UsageError(f"{path}: {what} not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise UsageError(
                f"{path}: {what} is a symbolic link; not followed in a run folder"
            ) from None
        raise UsageError(f"{path}: cannot read {what}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        _check_regular(path, info, limit, what)  # the file opened is the one checked
        try:
            data = handle.read(info.st_size + 1 if head is None else head)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read {what}: {exc.strerror}") from None
        except MemoryError:
            raise UsageError(f"{path}: {what} is too large to read into memory") from None
    if head is None and len(data) > info.st_size:
        raise UsageError(f"{path}: {what} grew while it was read; not read")
    return data


def require_regular_file(path: Path, *, what: str) -> None:
    """Refuse a path that is not a regular file (symlinks followed), for a file another library
    opens itself: pandas would wait on a FIFO, or read /dev/zero forever."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc.strerror}") from None
    _check_regular(path, info, info.st_size, what)


def _check_regular(path: Path, info: os.stat_result, limit: int, what: str) -> None:
    kind = _kind(info.st_mode)
    if kind == "a symlink":
        raise UsageError(f"{path}: {what} is a symbolic link; not followed in a run folder")
    if kind != "a regular file":
        raise UsageError(f"{path}: {what} is {kind}, not a regular file")
    if info.st_size > limit:
        raise UsageError(
            f"{path}: {what} is {_size(info.st_size)}; nncli reads at most {_size(limit)}"
        )


def _size(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def read_json_mapping(path: Path) -> dict:
    """The JSON object in a run folder's file (never a symlink, at most JSON_LIMIT bytes)."""
    data = read_regular_bytes(path, limit=JSON_LIMIT, what="file", follow_symlinks=False)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested beyond Python's stack
        raise UsageError(f"{path}: not valid JSON") from None
    if not isinstance(value, dict):
        raise UsageError(f"{path}: not a JSON object")
    return value
