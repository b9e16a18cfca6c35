"""What a rank other than the leader of a torchrun launch holds in place of the run folder, and
what it does when the leader is lost.

The leader (rank 0) writes the folder; the other ranks write nothing and end as the leader does,
quietly. A leader killed outright (SIGKILL, the out-of-memory killer) records nothing, though:
its run.json would say `running` for good and no process would say why the launch ended. The
kernel drops the leader's lock as it dies, so a rank that finds the lock free while run.json
still says `running` knows the leader is gone: it records the run interrupted (resumable when a
state was saved) and says so. The lock lets one survivor do it; any other finds run.json changed
and stays quiet, as every rank does when the leader lives to record the ending itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from nncli.errors import LeaderLost, PeerFailed, UsageError, WriteError
from nncli.fileio import read_json_mapping
from nncli.interrupts import StopRequest
from nncli.runs import layout as runs
from nncli.runs.folder import RunFolder
from nncli.runs.layout import RunKind
from nncli.runs.lock import take_when_free

LEADER_LOST = "the launch's leader (rank 0) was lost"
# How long a survivor waits for a dead leader's lock to be dropped. A leader that lives holds
# the lock until it has recorded how the run ended; the survivor then leaves that record alone.
LOCK_WAIT_S = 5.0


class Follower:
    """What a rank other than the leader holds in place of the run folder: it writes nothing
    (the leader writes the folder), and ends as the leader does, quietly, unless the leader was
    lost without a word (`record_lost_leader`)."""

    def __init__(self, kind: RunKind, stop: StopRequest | None, path: Path | None = None):
        self.kind = kind
        self.stop = stop
        self.path = path  # the leader's folder, once known: where a lost leader is recorded
        self.info: dict = {}
        self.also_save: Callable[[object], None] | None = None
        self.last_state = Path(runs.LAST_STATE_FILE)  # the leader's, named in messages

    def checkpoint(self, state, params: list) -> None:
        """The leader saves the resumable state."""

    def __enter__(self) -> Follower:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        from nncli.train.state import PartsStopped, TrainingStopped

        if isinstance(exc, TrainingStopped | PartsStopped):  # every rank stopped together
            raise PeerFailed(self.stop.exit_code if self.stop is not None else 130) from None
        if isinstance(exc, PeerFailed):
            self.record_lost_leader()
        return False

    def record_lost_leader(self) -> None:
        """If the leader died leaving run.json `running`, record the run interrupted and raise
        `LeaderLost`, which this rank reports; otherwise leave the folder alone."""
        if self.path is None:
            return
        fd = take_when_free(self.path, LOCK_WAIT_S)
        if fd is None:  # the leader lives (or another survivor is recording it)
            return
        folder = RunFolder(self.path, self.kind, fd, {}, self.stop)
        try:
            try:
                folder.record = read_json_mapping(self.path / runs.RUN_FILE)
            except UsageError:
                return
            if folder.record.get("status") != "running":  # recorded by the leader or a survivor
                return
            resumable = folder.saved_progress()
            try:
                folder.set_status("interrupted", resumable=resumable, error=LEADER_LOST)
                recorded = "so this process recorded the run as interrupted"
            except (OSError, WriteError) as exc:
                recorded = f"and this process could not record it ({exc})"
        finally:
            folder.release()
        then = (
            f"resume from what it saved with: {folder.resume_command}"
            if resumable
            else "it stopped before its first epoch was saved"
        )
        raise LeaderLost(f"{LEADER_LOST}, {recorded}; {then}") from None
