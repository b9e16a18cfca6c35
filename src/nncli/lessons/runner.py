"""nncli command lines run as the `nncli` program runs them, several at once.

Each command runs in a child process forked from this one once it has imported torch, matplotlib
and the modules training uses, so a command costs its own work only: importing torch is most of
a small lesson's time (1-3 s a process on the 2-core development machine, against 0.1-1 s of
training). The child is the real command: `nncli.cli.entry` (handed in by the caller, the layer
above) with the command's arguments, its output into a file. It draws its figures itself
(`NNCLI_FIGURE_WORKERS=0`): matplotlib is already imported there, and the other CPUs run the
other commands. It trains on one thread, as these small networks would anyway, so that a lesson's
numbers are the tutorial's on any machine.

Forking is safe here because nothing in this process has run torch (no intra-op threads exist)
and no Python thread runs. Ctrl-C and SIGTERM are passed on to the running commands, each in a
process group of its own so that a terminal's Ctrl-C reaches it once, through here; they stop
as nncli stops (a resumable state saved), no new one starts, and `Interrupted` says which.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nncli.errors import Interrupted

POLL_SECONDS = 0.05  # how often the running commands are asked whether they ended
STOPS = {signal.SIGINT, signal.SIGTERM}  # passed on to the running commands
# What a lesson's commands import: loaded once here, before the first fork.
WARM_MODULES = (
    "nncli.app.commands",
    "nncli.app.training",
    "nncli.app.outputs",
    "nncli.app.saved",
    "nncli.report.results",
    "nncli.report.progress",
    "nncli.report.html",
    "nncli.report.learned",
    "nncli.report.gridplots",
    "nncli.report.curves",
)


@dataclass(frozen=True)
class Command:
    """One nncli command line: `argv` after `nncli`, run in `cwd`; it starts once every command
    of `after` ended; `cost` (rough seconds) starts the longest first."""

    key: str
    argv: tuple[str, ...]
    cwd: Path
    after: tuple[str, ...] = ()
    json: bool = False  # stdout alone, apart from stderr: what --json prints
    cost: float = 1.0

    @property
    def shown(self) -> str:
        return shlex.join(["nncli", *self.argv])


@dataclass(frozen=True)
class Done:
    """How a command ended: its exit code, what it printed (stdout and stderr as they came, or
    stdout alone for `json`), its wall and CPU seconds."""

    command: Command
    code: int
    output: str
    seconds: float
    cpu_seconds: float


def prepare() -> None:
    """Import what every command needs, once, in this process (before any fork)."""
    import importlib

    os.environ["OMP_NUM_THREADS"] = "1"  # read when torch is imported: before that
    os.environ["MKL_NUM_THREADS"] = "1"
    for name in WARM_MODULES:
        importlib.import_module(name)
    from nncli.report import plots

    plots.pyplot()


def run_commands(
    commands: Sequence[Command],
    *,
    entry: Callable[[], None],
    workers: int,
    scratch: Path,
    on_start: Callable[[Command], None] | None = None,
    on_done: Callable[[Done], None] | None = None,
) -> dict[str, Done]:
    """Run `commands`, at most `workers` at a time, each as soon as those it comes after ended;
    their output files go in `scratch`. Returns each command's `Done` by key; `on_start` and
    `on_done` hear of each as it starts and ends. A stop signal is passed on to every running
    command, none starts after it, and `Interrupted` is raised once they ended. A command
    whose `after` failed does not start (it has no `Done`)."""
    keys = {c.key for c in commands}
    unknown = sorted({k for c in commands for k in c.after} - keys)
    if unknown:
        raise ValueError(f"commands come after commands that are not there: {unknown}")
    prepare()
    waiting = sorted(commands, key=lambda c: -c.cost)
    running: dict[int, tuple[Command, float]] = {}
    done: dict[str, Done] = {}
    stopped: list[int] = []

    def pass_on(signum: int, frame: object) -> None:
        stopped.append(signum)
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    previous = {sig: signal.signal(sig, pass_on) for sig in STOPS}
    try:
        while waiting or running:
            waiting = [c for c in waiting if all(done[k].code == 0 for k in c.after if k in done)]
            ready = [c for c in waiting if all(k in done for k in c.after)]
            while ready and len(running) < workers and not stopped:
                command = ready.pop(0)
                waiting.remove(command)
                # A signal that comes while the child is being made waits until it is known,
                # then is passed on to it too.
                signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
                try:
                    running[_start(command, entry, scratch)] = (command, time.perf_counter())
                finally:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
                if on_start is not None:
                    on_start(command)
            if not running:
                break  # stopped before the rest started
            time.sleep(POLL_SECONDS)
            for pid in list(running):
                ended, status, usage = os.wait4(pid, os.WNOHANG)
                if not ended:
                    continue
                command, started = running.pop(pid)
                code = os.waitstatus_to_exitcode(status)  # -N: ended by signal N
                result = Done(command, code if code >= 0 else 128 - code,
                              _output(scratch, command), time.perf_counter() - started,
                              usage.ru_utime + usage.ru_stime)  # fmt: skip
                done[command.key] = result
                if on_done is not None:
                    on_done(result)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped:
        raise _interrupted(stopped[0], done, waiting)
    return done


def _interrupted(signum: int, done: dict[str, Done], waiting: list[Command]) -> Interrupted:
    """What a stop left: the commands it stopped (with what nncli said of each), those never
    started."""
    name = signal.Signals(signum).name
    lines = [f"interrupted ({name})"]
    for result in done.values():
        if result.code != 0:
            said = [line for line in result.output.splitlines() if "--resume" in line]
            lines.append(f"stopped: {result.command.shown}" + (f" ({said[-1]})" if said else ""))
    if waiting:
        lines.append(f"not started: {len(waiting)} more command(s)")
    return Interrupted("\n".join(lines), 128 + signum)


def _files(scratch: Path, command: Command) -> tuple[Path, Path]:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in command.key)
    return scratch / f"{safe}.out", scratch / f"{safe}.err"


def _output(scratch: Path, command: Command) -> str:
    out, _ = _files(scratch, command)
    return out.read_text(encoding="utf-8", errors="replace")


def errors_of(scratch: Path, result: Done) -> str:
    """What a `json` command said on stderr."""
    _, err = _files(scratch, result.command)
    return err.read_text(encoding="utf-8", errors="replace") if err.exists() else ""


def _start(command: Command, entry: Callable[[], None], scratch: Path) -> int:
    """Fork a child that runs `command` through `entry`, as `nncli ARGS` would; its pid."""
    out, err = _files(scratch, command)
    for stream in (sys.stdout, sys.stderr):  # nothing of ours printed twice by the child
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70  # EX_SOFTWARE: the child failed before the command could say anything
    try:
        os.setpgid(0, 0)  # the terminal's Ctrl-C reaches the parent, which passes it on once
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)  # blocked by the parent while forking
        atexit._clear()  # the parent's exit handlers (its temporary folders) are not ours
        os.chdir(command.cwd)
        os.environ["NNCLI_FIGURE_WORKERS"] = "0"
        os.environ.pop("NNCLI_PHASES", None)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        stdout = os.open(out, flags, 0o600)
        os.dup2(stdout, 1)
        os.dup2(os.open(err, flags, 0o600) if command.json else stdout, 2)  # one offset: in order
        sys.argv = ["nncli", *command.argv]
        try:
            entry()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:  # a stop passed on before nncli's own handlers were set
        code = 128 + signal.SIGINT
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
