"""The life of a run folder, written once for every command that trains.

A folder is claimed atomically (exactly one process wins a name or an empty `--out`), locked for
as long as its process runs (the kernel drops the lock when the process dies, however it dies),
and its `run.json` always tells the truth: `running`, then `finished`, `failed` or `interrupted`
(with whether `--resume` can continue it), whichever way the command ends; a new run that
cannot write before it saved anything to resume (a full disk) leaves no folder instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

from nncli.config.schema import Config, dump_config
from nncli.errors import Interrupted, NncliError, RunFailedError, UsageError, WriteError
from nncli.fileio import atomic_write_json, atomic_write_text
from nncli.interrupts import StopRequest, held_signals
from nncli.runs import layout as runs
from nncli.runs.history import HistoryJournal, history_path
from nncli.runs.layout import RunKind
from nncli.runs.lock import claim, lock, unclaim, unlock
from nncli.runs.resumable import Saved, read_resumable
from nncli.runs.stacks import read_units

# What a new run may have written before it saved anything to resume from.
# (The state's history rows are appended before the state itself: without it they resume nothing.)
_START_FILES = {runs.LOCK_FILE, runs.CONFIG_FILE, runs.RUN_FILE, runs.HISTORY_FILE,
                runs.BEST_FILE, runs.HISTORY_DIR, runs.TENSORBOARD_DIR, runs.TRACKING_FILE,
                history_path(Path(runs.LAST_STATE_FILE)).name}  # fmt: skip


class RunFolder:
    """A claimed, locked run folder and its status; use it as a context manager.

    Leaving the `with` block by an exception records what happened: a stop request saves the
    resumable state and raises `Interrupted` with the resume command; a failure is `failed`; a
    second Ctrl-C, a closed pipe or a failed write is `interrupted`, resumable when a state was
    saved. `finish()` marks success.
    """

    def __init__(
        self, path: Path, kind: RunKind, lock_fd: int, record: dict, stop: StopRequest | None
    ):
        self.path = path
        self.kind = kind
        self._lock_fd = lock_fd
        self.record = record
        self.stop = stop
        self.info: dict = {}  # what a resume needs back, saved with every state
        from nncli.runs.state import ThrottledSaver  # torch: a folder is opened to train

        self.checkpoint = ThrottledSaver(self.save_state)
        self.history = HistoryJournal(history_path(self.last_state))  # appended by each save
        self.also_save: Callable[[object], None] | None = None  # more to save with each state
        self.new = False  # created by this process (not resumed): discarded if it saves nothing
        self.made = False  # its folder made by this process, not an empty --out given

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        config: Config,
        out: Path | None,
        *,
        kind: RunKind,
        stop: StopRequest | None = None,
        info: dict | None = None,
        **details: object,
    ) -> RunFolder:
        """Claim `out` (new or empty) or a new `<output.dir>/<name>[-kind]-<time>[-n]`.

        `info` is saved with every resumable state: what a resume needs back. `details` go into
        run.json.
        """
        if out is not None:
            path = Path(out)
            lock_fd, made = claim(path, explicit=True)
        else:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            label = "-".join(filter(None, [config.name or "run", kind.suffix]))
            base = Path(config.output.dir) / f"{label}-{stamp}"
            path, n = base, 1
            while True:
                try:
                    lock_fd, made = claim(path, explicit=False)
                    break
                except FileExistsError:
                    n += 1
                    path = base.with_name(f"{base.name}-{n}")
        folder = cls(path, kind, lock_fd, {}, stop)
        folder.info = dict(info or {})
        folder.new, folder.made = True, made
        try:
            atomic_write_text(path / runs.CONFIG_FILE, dump_config(config))
            folder.set_status("running", kind=kind.name, pid=os.getpid(), **details)
        except WriteError as exc:  # a full disk: no folder, rather than one that is not a run
            raise WriteError(f"{exc}; {folder.discard()}") from None
        except BaseException:
            folder.discard()
            raise
        return folder

    @classmethod
    def reopen(
        cls, path: Path, *, kind: RunKind, stop: StopRequest | None = None
    ) -> tuple[RunFolder, Config, Saved]:
        """An interrupted folder, its config and saved state; refuse anything not resumable."""
        path = Path(path)
        status_file = path / runs.RUN_FILE
        if not os.path.lexists(status_file):
            raise UsageError(f"{path}: not a run folder (no {runs.RUN_FILE})")
        lock_fd = lock(path)
        try:
            record, config, saved = read_resumable(path, kind)
            folder = cls(path, kind, lock_fd, record, stop)
            folder.info = saved.info
        except BaseException:
            unlock(lock_fd)
            raise
        return folder, config, saved

    # --- while running -------------------------------------------------------------------------

    @property
    def last_state(self) -> Path:
        return self.path / runs.LAST_STATE_FILE

    def save_state(self, state, params: list) -> None:
        from nncli.runs.state import save_training_state

        save_training_state(self.last_state, state, params, self.info, history=self.history)
        if self.also_save is not None:
            self.also_save(state)

    def set_status(self, status: str, **details: object) -> None:
        """run.json: status (running, finished, failed, interrupted) and when it changed."""
        now = datetime.now().isoformat(timespec="seconds")
        record = {"created": now} | self.record | {"status": status, "updated": now, **details}
        atomic_write_json(self.path / runs.RUN_FILE, record)
        self.record = record  # only once written: what it says is what run.json says

    def finish(self, **details: object) -> None:
        """Mark the folder finished; it has nothing left to resume (the state goes only once
        run.json says so: a run.json that cannot be written leaves the run resumable)."""
        with held_signals():  # run.json says finished before a quit, and then nothing is left
            self.set_status("finished", resumable=False, stopped_at=None, error=None, **details)
            self.last_state.unlink(missing_ok=True)
            self.history.path.unlink(missing_ok=True)

    def position(self, state) -> str:
        """Where a saved state stands: `epoch 3, step 7` (and which stack, in a grid of several)."""
        if state is None:
            return "its saved parts (partial/)"
        where = f"epoch {state.epoch}, step {state.step}"
        stacks = self.info.get("stacks", 1)
        if stacks > 1:
            where += f" of stack {self.info.get('stack', 0) + 1}/{stacks}"
        return where

    @property
    def resume_command(self) -> str:
        """How to continue: as it ran, alone or under torchrun (on any number of processes)."""
        from nncli.train.parallel import launched

        command = f"{self.kind.command} --resume {self.path}"
        ranks = launched()
        if ranks is None:
            return command
        command = f"torchrun --nproc-per-node {ranks.local_world} -m {command}"
        if ranks.world > ranks.local_world:
            command += " (with the launch's --nnodes and rendezvous options)"
        return command

    # --- ending --------------------------------------------------------------------------------

    def __enter__(self) -> RunFolder:
        if self.record.get("status") != "running" or self.record.get("pid") != os.getpid():
            self.set_status("running", pid=os.getpid())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        try:
            if exc is not None:
                self._record_ending(exc)
        except KeyboardInterrupt as again:  # a second Ctrl-C while the first ending was recorded
            self._record_ending(again)
            raise
        finally:
            self.release()
        return False

    def _record_ending(self, exc: BaseException) -> None:
        from nncli.train.state import PartsStopped, Stopped, TrainingStopped, TrialsStopped

        if isinstance(exc, Stopped):  # a stop request, honoured where the run can resume
            try:
                if isinstance(exc, TrainingStopped):  # else a split sweep's parts, each saved,
                    self.save_state(exc.state, exc.params)  # or before a file of a trained run
            except WriteError as failed:  # recorded below, as any failed write is
                exc = failed
            else:
                where = self.position(exc.state) if isinstance(exc, TrainingStopped) else str(exc)
                at = {TrainingStopped: "at ", PartsStopped: "with ", TrialsStopped: "with "}.get(
                    type(exc), "while "
                )
                saved = self.last_state
                saved = saved if saved.exists() else self.path / runs.PARTIAL_DIR
                if isinstance(exc, TrialsStopped):  # a search: its study holds what finished
                    saved = exc.saved
                elif self.kind.study:  # a search stopped while writing its files
                    search = self.record.get(self.kind.name) or {}
                    saved = search.get("storage") or self.path / runs.STUDY_FILE
                self._best_effort_status("interrupted", resumable=True, stopped_at=where)
                code = self.stop.exit_code if self.stop is not None else 130
                raise Interrupted(
                    f"interrupted {at}{where}; saved {saved}\nresume with: {self.resume_command}",
                    code,
                ) from None
        resumable = self.saved_progress()
        from nncli.errors import DamagedFileError, PeerFailed

        if isinstance(exc, PeerFailed):  # another rank of the launch failed or was killed
            self._best_effort_status(
                "interrupted", resumable=resumable, error="another rank of the launch stopped"
            )
            then = (
                f"resume from what it saved with: {self.resume_command}"
                if resumable
                else "it stopped before its first epoch was saved"
            )
            raise PeerFailed(exc.exit_code, f"{exc}; {then}") from None
        if isinstance(exc, KeyboardInterrupt | BrokenPipeError):
            self._best_effort_status("interrupted", resumable=resumable)
            return
        if isinstance(exc, DamagedFileError):  # the file is at fault, not the run
            self._best_effort_status("interrupted", resumable=True, error=str(exc))
            raise DamagedFileError(f"{exc}; the run is left interrupted, to resume") from None
        if isinstance(exc, WriteError) and resumable:
            self._best_effort_status("interrupted", resumable=True, error=str(exc))
            raise WriteError(f"{exc}\nfree the space, then resume with: {self.resume_command}")
        if isinstance(exc, WriteError):  # before anything was saved to resume from
            if self.new and {entry.name for entry in os.scandir(self.path)} <= _START_FILES:
                raise WriteError(f"{exc}; {self.discard()}") from None
            self._best_effort_status("interrupted", resumable=False, error=str(exc))
            raise WriteError(f"{exc}; it stopped before its first epoch was saved") from None
        message = str(exc) if isinstance(exc, NncliError) else f"{type(exc).__name__}: {exc}"
        self._best_effort_status("failed", error=message, resumable=False)
        if isinstance(exc, RunFailedError) and self.last_state.exists():
            raise RunFailedError(f"{exc}; the last good state is kept in {self.last_state}")

    def saved_progress(self) -> bool:
        """Whether the folder holds a state to resume from (a split sweep: its parts)."""
        if self.kind.study:  # a search's study is written as each trial ends
            return True
        try:
            return self.last_state.exists() or read_units(self.path) is not None
        except UsageError:  # partial/units.json unreadable: nothing known to resume from
            return False

    def discard(self) -> str:
        """Remove what this new run wrote, and its folder if nncli made it; say so."""
        unclaim(self.path, self._lock_fd, made=self.made, written=_START_FILES)
        self._lock_fd = -1
        what = f"{self.path} is" if self.made else f"the files it wrote in {self.path} are"
        return f"nothing was saved to resume, so {what} removed"

    def abandon(self, reason: str) -> None:
        """Give the folder up before training: `failed`, with nothing to resume."""
        self._best_effort_status("failed", error=reason, resumable=False)
        self.release()

    def _best_effort_status(self, status: str, **details: object) -> None:
        """Record how the run ended, unless it finished already or the disk will not take that."""
        if self.record.get("status") == "finished":
            return
        with contextlib.suppress(OSError, WriteError), held_signals():  # a quit waits for it
            self.set_status(status, **details)

    def release(self) -> None:
        if self._lock_fd >= 0:
            unlock(self._lock_fd)
            self._lock_fd = -1
