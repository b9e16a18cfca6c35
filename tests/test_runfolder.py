"""The run-folder lifecycle: atomic claims, a lock held while running, a status that is true."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli import fileio
from nncli.app import commands
from nncli.app.commands import run_compare, run_sweep, run_train
from nncli.cli import app
from nncli.config.loading import load_config
from nncli.errors import UsageError, WriteError
from nncli.runs import lock
from nncli.runs.folder import RunFolder
from nncli.runs.layout import TRAIN

NNCLI = [sys.executable, "-m", "nncli"]
STOP_AT = [sys.executable, str(Path(__file__).with_name("stop_at.py"))]  # see there


@pytest.fixture
def slow_config(write_config, tmp_path) -> Path:
    """A run that lasts a second or two (20 epochs of 350 steps), so another process can meet it
    while it trains."""
    return write_config(
        {
            "data": {"source": "moons", "n_samples": 2000},
            "model": {"depth": 2, "width": 32},
            "training": {"epochs": 20, "batch_size": 4},
            "output": {"dir": str(tmp_path / "runs")},
        },
        "slow.yaml",
    )


def status(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def test_one_claim_wins_an_empty_out_folder(tiny_moons, tmp_path):
    out = tmp_path / "shared"
    out.mkdir()
    config = load_config(tiny_moons)
    first = RunFolder.create(config, out, kind=TRAIN)
    try:
        with pytest.raises(UsageError, match=rf"^{out}: still running \(process {os.getpid()}\)"):
            RunFolder.create(config, out, kind=TRAIN)
    finally:
        first.release()
    # Released, the folder is no longer empty: nobody else may write into it.
    with pytest.raises(UsageError, match="--out must be a new or empty folder"):
        RunFolder.create(config, out, kind=TRAIN)


@pytest.mark.slow
def test_two_trainings_started_together_into_one_out_folder(slow_config, tmp_path):
    out = tmp_path / "race"
    args = [*NNCLI, "train", str(slow_config), "--out", str(out), "--quiet",
            "--set", "training.epochs=3"]  # fmt: skip
    runs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outcomes = sorted((p.wait(timeout=120), p.stderr.read()) for p in runs)
    assert [code for code, _ in outcomes] == [0, 2], outcomes
    assert str(out) in outcomes[1][1] and outcomes[1][1].count("\n") == 1
    assert status(out)["status"] == "finished"


@pytest.mark.slow
def test_a_live_run_cannot_be_resumed_and_a_killed_one_leaves_no_stale_lock(slow_config, tmp_path):
    out = tmp_path / "live"
    # Paused before epoch 2's first step (tests/stop_at.py): training, its first epoch saved.
    args = [*STOP_AT, "351", "pause", "--", "train", str(slow_config), "--out", str(out), "--quiet"]
    process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "paused\n"
        with pytest.raises(UsageError, match=rf"still running \(process {process.pid}\)"):
            run_train(None, [], resume=out)
        process.kill()  # -9: no handler runs, run.json still says running
        process.wait(timeout=10)
        assert status(out)["status"] == "running"
        # The kernel dropped the lock with the process, so the folder resumes (no stale pid).
        result = run_train(None, [], resume=out).to_json()
        assert result["epochs_run"] == 20 and status(out)["status"] == "finished"
    finally:
        process.kill()
        process.communicate()


@pytest.mark.parametrize(
    ("run", "kind", "writer"),
    [
        (run_train, "train", "write_train_outputs"),
        (lambda c, **kw: run_sweep(c, [], vary=["training.lr=0.1,0.2"], **kw), "sweep",
         "write_grid_outputs"),
        (lambda c, **kw: run_compare(c, [], activations=["relu"], n_seeds=1, **kw), "compare",
         "write_grid_outputs"),
    ],
    ids=["train", "sweep", "compare"],
)  # fmt: skip
def test_a_crash_marks_every_kind_of_run_failed(tiny_moons, tmp_path, monkeypatch, run, kind,
                                                writer):  # fmt: skip
    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(commands, writer, crash)
    out = tmp_path / kind
    with pytest.raises(RuntimeError):
        if kind == "train":
            run(tiny_moons, [], out=out)
        else:
            run(tiny_moons, out=out)
    record = status(out)
    assert record["status"] == "failed" and record["error"] == "RuntimeError: a bug"
    assert record["kind"] == kind


def test_a_full_disk_while_writing_outputs_leaves_a_resumable_run(tiny_moons, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    def full(*args, **kwargs):
        raise WriteError("loss.png: cannot write: No space left on device")

    monkeypatch.setattr(commands, "write_train_outputs", full)
    out = tmp_path / "full"
    with pytest.raises(WriteError, match=f"resume with: nncli train --resume {out}"):
        run_train(tiny_moons, [], out=out)
    assert status(out)["status"] == "interrupted" and status(out)["resumable"] is True
    monkeypatch.undo()
    assert run_train(None, [], resume=out).to_json()["epochs_run"] == 5
    assert status(out)["status"] == "finished"


@pytest.mark.slow
def test_a_closed_output_pipe_stops_training_resumably(slow_config, tmp_path):
    out = tmp_path / "piped"
    # Paused before the first step, the setup printed: the reader leaves (as `| head -1` does),
    # and the first epoch's line, which is always printed, meets the closed pipe.
    args = ["1", "pause", "--", "train", str(slow_config), "-s", "training.epochs=10",
            "--out", str(out)]  # fmt: skip
    process = subprocess.Popen([*STOP_AT, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    read = []
    for line in process.stdout:
        if line == "paused\n":
            break
        read.append(line)
    assert read and read[0].startswith("slow: 2000 rows"), (read, process.wait(60))
    process.stdout.close()
    _, stderr = process.communicate("\n", timeout=120)
    assert process.returncode == 141, stderr
    record = status(out)
    assert record["status"] == "interrupted" and record["resumable"] is True
    assert record["stopped_at"] == "epoch 2, step 0"
    assert run_train(None, [], resume=out).to_json()["epochs_run"] == 10


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [("TERM", 143), ("INT", 130)])
def test_a_signal_before_training_ends_a_slow_start_at_once(write_config, tmp_path, signum, code):
    # Ten million rows take seconds to generate and split: a signal then must not wait for them,
    # nor for training to begin. It comes as the data set starts to be generated (stop_at.py).
    config = write_config({"data": {"source": "moons", "n_samples": 10_000_000}}, "big.yaml")
    never = tmp_path / "never"
    args = ["loading", signum, "--", "train", str(config), "--out", str(never)]
    process = subprocess.run([*STOP_AT, *args], capture_output=True, text=True, timeout=120)
    assert process.returncode == code, process.stderr
    assert f"interrupted (SIG{signum})" in process.stderr
    assert not never.exists()


NO_SPACE = os.strerror(errno.ENOSPC)


def full_disk_at(n: int, monkeypatch) -> list[int]:
    """The n-th atomic write of this process meets a full disk: its fsync fails with ENOSPC, as
    a real one would, and fileio handles that. Returns the count of writes so far (one item)."""
    write, calls = fileio._write_and_rename, [0]

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, NO_SPACE)

    def counted(path: Path, data: bytes, mode: int | None) -> None:
        calls[0] += 1
        if calls[0] != n:
            return write(path, data, mode)
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", no_space)
            return write(path, data, mode)

    monkeypatch.setattr(fileio, "_write_and_rename", counted)
    return calls


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    # Two stacks (depths differ) write every kind of file a sweep writes; more only repeat them.
    [["train"], ["sweep", "--vary", "model.depth=1,2"]],
    ids=["train", "sweep"],
)
def test_a_full_disk_at_any_write_leaves_no_folder_or_a_true_one(
    tiny_moons, tmp_path, monkeypatch, unrendered_plots, command
):
    """Every atomic write of a run, the first to the last, in turn meets a full disk: each time
    exit 2 and one line that says so, and then no folder, or one whose run.json says interrupted
    and resumable (and --resume finishes it): never a `.lock` alone, a config.yaml without a
    run.json, `running`, or a run failed for want of space."""
    runner, outcomes, n = CliRunner(), set(), 0
    while True:
        n += 1
        out = tmp_path / f"full-{n}"
        with monkeypatch.context() as patch:
            calls = full_disk_at(n, patch)
            result = runner.invoke(app, [*command, str(tiny_moons), "--out", str(out)])
        if calls[0] < n:  # the run wrote fewer files than n: every write has been failed once
            assert result.exit_code == 0, result.output
            break
        assert result.exit_code == 2, (n, result.output)
        spoken = [line for line in result.stderr.splitlines() if NO_SPACE in line]
        assert len(spoken) == 1 and len(result.stderr.splitlines()) <= 2, (n, result.stderr)
        if not out.exists():
            outcomes.add("no folder")
            continue
        record = status(out)
        assert record["status"] == "interrupted" and record["resumable"] is True, (n, record)
        assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], n
        outcomes.add("resumable")
        if "resumable" not in outcomes - {"checked"}:
            continue
        resumed = runner.invoke(app, [command[0], "--resume", str(out)])
        assert resumed.exit_code == 0, (n, resumed.output)
        assert status(out)["status"] == "finished"
        outcomes.add("checked")
    assert outcomes == {"no folder", "resumable", "checked"}, outcomes
    assert n > 5  # config.yaml, run.json, the first state and the outputs at least


def test_a_lock_that_cannot_be_written_leaves_no_folder(tiny_moons, tmp_path, monkeypatch):
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(lock, "_write_pid", no_space)
    made, given = tmp_path / "made", tmp_path / "given"
    given.mkdir()
    for out in (made, given):
        result = CliRunner().invoke(app, ["train", str(tiny_moons), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: {out}/.lock: cannot write: {NO_SPACE}\n"
    assert not made.exists() and list(given.iterdir()) == []
