"""The run-folder lifecycle: atomic claims, a lock held while running, a status that is true."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nncli.app import commands
from nncli.app.commands import run_compare, run_sweep, run_train
from nncli.config.loading import load_config
from nncli.errors import UsageError, WriteError
from nncli.runs.folder import RunFolder
from nncli.runs.layout import TRAIN

NNCLI = [sys.executable, "-m", "nncli"]


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


def test_a_live_run_cannot_be_resumed_and_a_killed_one_leaves_no_stale_lock(slow_config, tmp_path):
    out = tmp_path / "live"
    process = subprocess.Popen([*NNCLI, "train", str(slow_config), "--out", str(out), "--quiet"])
    try:
        deadline = time.monotonic() + 60
        while not (out / "last.safetensors").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
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


def test_a_closed_output_pipe_stops_training_resumably(slow_config, tmp_path):
    out = tmp_path / "piped"
    # head leaves after the setup line; the epoch lines that follow meet the closed pipe. Ten
    # epochs leave the pipe time to close on a loaded machine; resuming trains what is left.
    shell = f"{' '.join(NNCLI)} train {slow_config} -s training.epochs=10 --out {out} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 141, done.stderr
    assert done.stdout.count("\n") == 1
    record = status(out)
    assert record["status"] == "interrupted" and record["resumable"] is True
    assert run_train(None, [], resume=out).to_json()["epochs_run"] == 10


def handles(pid: int, signum: int) -> bool:
    """Whether process `pid` has installed a handler for `signum` (Linux: /proc SigCgt)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt")), 16
    )
    return bool(caught >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_before_training_ends_a_slow_start_at_once(write_config, tmp_path, signum, code):
    # Ten million rows take seconds to generate and split: a signal then must not wait for them.
    config = write_config({"data": {"source": "moons", "n_samples": 10_000_000}}, "big.yaml")
    process = subprocess.Popen([*NNCLI, "train", str(config), "--out", str(tmp_path / "never")],
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    # Until nncli's handlers are in place (imports come first). Python catches SIGINT from its
    # start, so only SIGTERM, which nncli catches alongside, says that they are.
    while not handles(process.pid, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the data loading
    start = time.monotonic()
    process.send_signal(signum)
    assert process.wait(timeout=20) == code
    assert time.monotonic() - start < 5
    assert "interrupted" in process.stderr.read()
    assert not (tmp_path / "never").exists()
