"""The run folder's lock file: created exclusively, never written through, never a user's file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nncli.config.loading import load_config
from nncli.errors import UsageError
from nncli.runs import lock
from nncli.runs.folder import RunFolder
from nncli.runs.layout import TRAIN


@pytest.fixture
def config(tiny_moons):
    return load_config(tiny_moons)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def interrupted_folder(folder: Path, config_path: Path) -> None:
    """A folder as a run interrupted before its first save leaves it, minus the lock file."""
    folder.mkdir()
    (folder / "config.yaml").write_text(config_path.read_text())
    (folder / "run.json").write_text(json.dumps({"status": "interrupted", "kind": "train"}))


def test_a_folder_with_a_users_file_and_a_lock_is_refused_and_left_as_it_was(config, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (out / ".lock").write_text("my own text")
    before = contents(out)
    with pytest.raises(UsageError, match="new or empty folder; it would overwrite"):
        RunFolder.create(config, out, kind=TRAIN)
    assert contents(out) == before


def test_a_folder_holding_only_a_lock_is_not_empty(config, tmp_path):
    out = tmp_path / "lock-only"
    out.mkdir()
    (out / ".lock").write_text("12345")
    with pytest.raises(UsageError, match="would overwrite"):
        RunFolder.create(config, out, kind=TRAIN)
    assert contents(out) == {".lock": b"12345"}


def test_a_lock_hard_linked_to_a_users_file_is_never_written(config, tiny_moons, tmp_path):
    user = tmp_path / "user.txt"
    user.write_text("precious")
    out = tmp_path / "linked"
    out.mkdir()
    os.link(user, out / ".lock")
    with pytest.raises(UsageError):
        RunFolder.create(config, out, kind=TRAIN)
    resumed = tmp_path / "resumed"
    interrupted_folder(resumed, tiny_moons)
    os.link(user, resumed / ".lock")
    with pytest.raises(UsageError, match=r"\.lock: has other links, so it is not nncli's lock"):
        RunFolder.reopen(resumed, kind=TRAIN)
    assert user.read_text() == "precious"


def test_a_symlinked_lock_is_refused_and_its_target_untouched(tiny_moons, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    folder = tmp_path / "symlinked"
    interrupted_folder(folder, tiny_moons)
    (folder / ".lock").symlink_to(target)
    with pytest.raises(UsageError, match=r"\.lock: cannot use this lock file"):
        RunFolder.reopen(folder, kind=TRAIN)
    assert target.read_text() == "keep me"


def test_a_fifo_lock_is_a_clear_error_not_a_hang(config, tiny_moons, tmp_path):
    folder = tmp_path / "fifo"
    interrupted_folder(folder, tiny_moons)
    os.mkfifo(folder / ".lock")
    with pytest.raises(UsageError, match=r"\.lock: is not a regular file"):
        RunFolder.reopen(folder, kind=TRAIN)
    out = tmp_path / "fifo-out"
    out.mkdir()
    os.mkfifo(out / ".lock")
    with pytest.raises(UsageError, match=r"\.lock: is not a regular file"):
        RunFolder.create(config, out, kind=TRAIN)


def test_a_resumed_folder_that_lost_its_lock_gets_a_new_one(tiny_moons, tmp_path):
    folder = tmp_path / "lost"
    interrupted_folder(folder, tiny_moons)
    with pytest.raises(UsageError, match=r"no last\.safetensors"):
        RunFolder.reopen(folder, kind=TRAIN)
    assert (folder / ".lock").is_file()  # created exclusively, then released


def test_the_holder_of_a_live_lock_is_known_and_a_released_one_is_free(config, tmp_path):
    folder = RunFolder.create(config, tmp_path / "live", kind=TRAIN)
    try:
        assert lock.holder(folder.path) == os.getpid()
    finally:
        folder.release()
    assert lock.holder(folder.path) is None


def test_runs_shows_a_running_folder_whose_process_is_gone_as_killed(config, tmp_path):
    from nncli.runs.listing import list_runs

    runs = tmp_path / "runs"
    live = RunFolder.create(config, runs / "live", kind=TRAIN)
    try:
        gone = RunFolder.create(config, runs / "gone", kind=TRAIN)
        gone.release()  # as when its process was killed with -9: run.json still says running
        statuses = {r["run"]: r["status"] for r in list_runs(runs)}
        assert statuses == {"live": "running", "gone": "killed"}
    finally:
        live.release()
