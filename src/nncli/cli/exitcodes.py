"""The one place nncli's errors become exit codes and short messages on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import typer
from typer.core import TyperGroup


class ErrorsToExitCodes(TyperGroup):
    """Turns nncli's errors into one line on stderr and an exit code; --debug re-raises."""

    # Set by `cli.main` when --debug appears anywhere on the command line, not only first.
    debug = False

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        with one_line_usage_errors(ctx):  # `nncli --bogus`: before any command is chosen
            return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> object:
        from nncli.errors import Interrupted, NncliError, PeerFailed, printable

        debug = self.debug or bool(ctx.params.get("debug"))
        rank = launch_rank()
        try:
            with one_line_usage_errors(ctx):  # a command's arguments, or an unknown command
                return super().invoke(ctx)
        except NncliError as exc:
            if debug:
                raise
            if isinstance(exc, PeerFailed) and (rank or not str(exc)):
                ctx.exit(exc.exit_code)  # the failing rank, or the leader, says what happened
            prefix = "" if isinstance(exc, Interrupted) else "error: "
            if rank:
                prefix += f"rank {rank}: "
            lines = str(exc).splitlines() or [type(exc).__name__]
            if len(lines) > MAX_MESSAGE_LINES:
                more = len(lines) - MAX_MESSAGE_LINES + 1
                lines = [*lines[: MAX_MESSAGE_LINES - 1], f"… and {more} more problems"]
            with contextlib.suppress(OSError):  # stderr may be a closed pipe too
                for line in lines:
                    typer.echo(f"{prefix}{_capped(printable(line))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:  # before training, or a second Ctrl-C: no state to save
            if debug:
                raise
            code = getattr(exc, "exit_code", 130)
            if not rank:  # a launch's leader speaks for every rank
                with contextlib.suppress(OSError):
                    what = printable(str(exc) or "SIGINT")  # a plain Ctrl-C carries no name
                    typer.echo(f"interrupted ({what}); nothing more was saved", err=True)
            ctx.exit(code)
        except BrokenPipeError:  # `nncli ... | head`: the reader left; that is not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so flushing at exit cannot fail again
            ctx.exit(141)
        except Exception as exc:  # a bug in nncli: one line, and the traceback on request
            if debug or _is_cli_framework_exit(exc):
                if isinstance(getattr(exc, "message", None), str):  # echoes a bad option value
                    exc.message = _capped(printable(exc.message))
                raise
            detail = _capped(printable(next(iter(str(exc).splitlines()), "")))
            where = f"rank {rank}: " if rank else ""
            with contextlib.suppress(OSError):
                typer.echo(
                    f"{where}internal error: {type(exc).__name__}: {detail} (rerun with --debug)",
                    err=True,
                )
            ctx.exit(1)


# The last line of defence for messages that quote more than they should: every printed line is
# cut to MAX_LINE_CHARS, and a message to MAX_MESSAGE_LINES lines (a config's problems, one each).
MAX_LINE_CHARS = 500
MAX_MESSAGE_LINES = 20


@contextlib.contextmanager
def one_line_usage_errors(ctx: typer.Context) -> Iterator[None]:
    """A bad argument or option as one line on stderr, `error: --seeds: ...`, and exit 2, as
    nncli's own errors are: not click's usage box. `nncli` alone still shows the help."""
    # Typer 0.29 carries its own click: its usage errors are TyperExceptions, not click's.
    try:
        yield
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
            raise
        from nncli.errors import printable

        line, param = _lower(exc.format_message()), getattr(exc, "param", None)
        if isinstance(exc, typer.BadParameter) and exc.message and param is not None:
            detail = _lower(exc.message.removeprefix("Value error, "))
            if param.param_type_name == "option":
                line = f"{max(param.opts, key=len)}: {detail}"  # --out, not -o
            else:
                line = f"{param.metavar or param.name.upper()}: {detail}"
        if launch_rank() == 0:  # every process of a launch parses the same arguments
            typer.echo(f"error: {_capped(printable(line.rstrip('.')))}", err=True)
        ctx.exit(exc.exit_code)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def launch_rank() -> int:
    """This process's rank in a torchrun launch (0 alone): messages of the others name it."""
    value = os.environ.get("RANK", "0") if os.environ.get("WORLD_SIZE", "1") != "1" else "0"
    return int(value) if value.isdigit() else 0


def _capped(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def _is_cli_framework_exit(exc: Exception) -> bool:
    """Usage errors and exits of Typer (and the click it wraps), which print and exit themselves."""
    return isinstance(exc, typer.Exit | typer.Abort) or type(exc).__module__.startswith(
        ("click", "typer")
    )
