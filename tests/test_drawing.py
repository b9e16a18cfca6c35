"""Figures drawn in worker processes (report/drawing.py): the same bytes as drawn in the
command's own process, their errors raised as the command's, nothing lost when a worker dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nncli.errors import WriteError
from nncli.report import plots
from nncli.report.drawing import Drawer


def refuse(path: Path) -> None:
    raise WriteError(f"{path}: cannot write: No space left on device")


def record_drawer(path: Path) -> None:
    """Which process drew, and whether torch was there to draw with."""
    path.write_text(f"{os.getpid()} {'torch' in sys.modules} {'matplotlib' in sys.modules}")


def wait_forever(path: Path) -> None:
    staged = path.with_name(path.name + ".part")  # renamed: the waiting test never reads it half
    staged.write_text(str(os.getpid()))
    staged.replace(path)
    time.sleep(3600)


def meet(mine: Path, theirs: Path) -> None:
    """Write `mine`, then wait for `theirs`: two of these end only when drawn at once."""
    mine.write_text(str(os.getpid()))
    hang_guard = time.monotonic() + 300  # drawn one after the other, fail rather than hang
    while not theirs.exists():
        if time.monotonic() > hang_guard:
            raise RuntimeError(f"{theirs} never came: figures drawn one at a time")
        time.sleep(0.01)


def die_unless_in(pid: int, path: Path) -> None:
    """Kill the process drawing this, unless it is the process `pid`."""
    if os.getpid() != pid:
        os.kill(os.getpid(), signal.SIGKILL)
    record_drawer(path)


@pytest.mark.slow
def test_figures_drawn_in_workers_are_the_bytes_drawn_in_process(
    tiny_moons, tmp_path, monkeypatch, limited_cli
):
    compare = ["compare-activations", str(tiny_moons), "--activations", "relu,tanh", "--seeds", "1"]
    # No figure cache: with the session's, activations.png was copied, not drawn, in workers.
    monkeypatch.setenv("NNCLI_CACHE_DIR", "")
    for workers in (0, 2):
        # Both commands in one fresh process per setting, which each command reads anew: a
        # process per command would import torch four times.
        monkeypatch.setenv("NNCLI_FIGURE_WORKERS", str(workers))
        done = limited_cli({
            "train": (["train", str(tiny_moons), "--quiet", "--out", f"train{workers}"], tmp_path),
            "compare": ([*compare, "--quiet", "--out", f"grid{workers}"], tmp_path),
        })  # fmt: skip
        for name, result in done.items():
            assert result.returncode == 0, (workers, name, result.stderr)
    for folder in ("train", "grid"):
        inline = sorted(p.name for p in (tmp_path / f"{folder}0").glob("*.png"))
        assert len(inline) >= 3, inline
        drawn = sorted(p.name for p in (tmp_path / f"{folder}2").glob("*.png"))
        assert drawn == inline
        for name in inline:
            assert (tmp_path / f"{folder}2" / name).read_bytes() == (
                tmp_path / f"{folder}0" / name
            ).read_bytes(), name
        leftovers = [p.name for p in (tmp_path / f"{folder}2").iterdir() if p.name.endswith("tmp")]
        assert leftovers == []


def test_workers_draw_without_torch(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5} for e in (1, 2, 3)]
    with Drawer(1) as drawer:
        drawer.draw(plots.plot_learning_curves, tmp_path / "loss.png", history, title="t",
                    loss_name="loss", metric="accuracy", kept_epoch=3)  # fmt: skip
        drawer.draw(record_drawer, tmp_path / "who")
        drawer.wait()
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    pid, torch, matplotlib = (tmp_path / "who").read_text().split()
    assert int(pid) != os.getpid()
    assert (torch, matplotlib) == ("False", "True")


def test_a_figure_that_fails_in_a_worker_raises_its_error_in_the_command(tmp_path):
    with Drawer(2) as drawer:
        drawer.draw(record_drawer, tmp_path / "first")
        drawer.draw(refuse, tmp_path / "roc.png")
        with pytest.raises(WriteError, match=r"roc\.png: cannot write: No space left"):
            drawer.wait()
    assert (tmp_path / "first").exists()


def test_figures_are_drawn_at_once_in_processes_forked_from_one_worker(tmp_path):
    with Drawer(2) as drawer:
        drawer.draw(meet, tmp_path / "a", tmp_path / "b")
        drawer.draw(meet, tmp_path / "b", tmp_path / "a")
        drawer.draw(record_drawer, tmp_path / "who")
        drawer.wait()
        worker = drawer._worker.process.pid
    drawers = {int((tmp_path / name).read_text().split()[0]) for name in ("a", "b", "who")}
    assert len(drawers) == 3 and os.getpid() not in drawers and worker not in drawers
    assert (tmp_path / "who").read_text().split()[1:] == ["False", "True"]  # no torch there


def test_a_figure_whose_drawing_process_died_is_drawn_by_the_command(tmp_path):
    with Drawer(2) as drawer:
        drawer.draw(record_drawer, tmp_path / "before")
        drawer.draw(die_unless_in, os.getpid(), tmp_path / "died")
        drawer.draw(record_drawer, tmp_path / "after")
        drawer.wait()
    pids = {
        name: int((tmp_path / name).read_text().split()[0]) for name in ("before", "died", "after")
    }
    assert pids["died"] == os.getpid()
    assert os.getpid() not in (pids["before"], pids["after"])


def test_figures_of_a_worker_that_died_are_drawn_by_the_command(tmp_path):
    with Drawer(1) as drawer:
        worker = drawer._worker
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()
        drawer.draw(record_drawer, tmp_path / "who")
        drawer.wait()
    assert int((tmp_path / "who").read_text().split()[0]) == os.getpid()


def test_closing_with_figures_pending_ends_the_workers_at_once(tmp_path):
    drawer = Drawer(1)
    worker = drawer._worker
    drawer.draw(wait_forever, tmp_path / "started")
    drawer.draw(record_drawer, tmp_path / "never")
    hang_guard = time.monotonic() + 300  # a worker that never starts fails, not hangs
    while not (tmp_path / "started").exists():  # wait until the worker is inside that figure
        assert worker.process.poll() is None and time.monotonic() < hang_guard
        time.sleep(0.01)
    drawer.close()  # a stop or an error: SIGTERM, which the worker takes at once
    assert worker.process.returncode == 128 + signal.SIGTERM
    assert not (tmp_path / "never").exists()
    with pytest.raises(ProcessLookupError):  # its drawing process ended (and was reaped) too
        os.kill(int((tmp_path / "started").read_text()), 0)


def test_a_bad_worker_count_is_one_line(tmp_path, tiny_moons):
    env = {**os.environ, "NNCLI_FIGURE_WORKERS": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "nncli", "train", str(tiny_moons), "--out", str(tmp_path / "r")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: NNCLI_FIGURE_WORKERS: a whole number from 0 to 16, got 'many'"
    )
    assert not (tmp_path / "r").exists()
