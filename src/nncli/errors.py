"""The project's exception types (only the CLI turns them into exit codes), and how their
messages quote content."""

from __future__ import annotations

import contextvars
import re
import reprlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class NncliError(Exception):
    """Base of every error nncli reports to the user as a message, not a traceback."""

    exit_code = 1


class UsageError(NncliError):
    """Bad config, option or input file: the user can fix it (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file or override that does not validate; may carry several problems."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class WriteError(UsageError):
    """A file could not be written (disk full, no permission); the previous version is kept."""


class DamagedFileError(UsageError):
    """A file nncli saved in a run folder cannot be read back: damaged, replaced, swapped with
    another or left from other models (exit code 2). The run is left interrupted and resumable:
    the file is at fault, not the run."""


class RunFailedError(NncliError):
    """A run that started and could not finish, such as a diverging loss (exit code 1)."""

    exit_code = 1


class Interrupted(NncliError):
    """Training stopped on request (SIGINT or SIGTERM) after saving a resumable checkpoint."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


# Content quoted in a message (a cell, a column name, a config value): at most this many
# characters, so that no message grows with its input.
EXCERPT_CHARS = 40
_content_hidden = contextvars.ContextVar("content_hidden", default=False)
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring = 2, 4, 4, EXCERPT_CHARS


def excerpt(value: object) -> str:
    """`value` quoted for a message: its repr, cut to 40 characters with '…'.

    Under `hidden_content()` it is `<hidden>`, for files the user did not name.
    """
    if _content_hidden.get():
        return "<hidden>"
    if isinstance(value, str):
        return repr(value[:EXCERPT_CHARS]) + ("…" if len(value) > EXCERPT_CHARS else "")
    try:
        return clipped(_REPR.repr(value))
    except (ValueError, RecursionError):  # an integer with more digits than Python prints
        return f"<a {type(value).__name__}>"


def clipped(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` on one line (torch's state-dict errors span several) and cut to `limit`
    characters with '…', unquoted (a key the user typed, a library's message)."""
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def excerpts(values: Iterable[object], count: int = 8) -> str:
    """The first `count` values, each an `excerpt`, then how many more there are."""
    if _content_hidden.get():
        return "<hidden>"
    values = list(values)
    shown = ", ".join(excerpt(value) for value in values[:count])
    return shown + (f", … ({len(values) - count} more)" if len(values) > count else "")


# C0 but newline and tab, DEL, and C1: every terminal escape sequence starts with one of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """`text` safe to reach a terminal: each control character (C0 but newline and tab, DEL,
    C1, hence every escape sequence) shown as its escape, `\\x1b`. Rich markup is escaped on
    top of this by `report.tables.safe`, for what a rich console prints."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(text))


@contextmanager
def hidden_content() -> Iterator[None]:
    """Messages raised inside quote no content (`<hidden>`): the files read were not named by
    the user, such as the data a foreign checkpoint's config points at."""
    token = _content_hidden.set(True)
    try:
        yield
    finally:
        _content_hidden.reset(token)


class LeaderLost(NncliError):
    """The leader (rank 0) of a torchrun launch died without recording how the run ended; a
    surviving rank recorded it and reports it (exit code 1)."""


class PeerFailed(NncliError):
    """Another rank failed or left: this one stops without a message of its own (the failing
    rank, or the leader, says what happened)."""

    def __init__(self, exit_code: int = 1, detail: str = ""):
        super().__init__(detail)
        self.exit_code = exit_code
