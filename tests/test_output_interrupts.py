"""A stop asked for after the last training step, while a trained run's files are written: it
ends the run there, resumable, within one file's time; and no quit (a second Ctrl-C) leaves
`run.json` saying `running`. Each stop is injected at a chosen file (tests/stop_at.py's
`file:NAME`) or write, never by sleeping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from nncli.app.commands import run_train
from nncli.cli import app
from nncli.grid.session import Session
from nncli.interrupts import SignalExit, held_signals, stop_on_signals
from nncli.runs import folder as run_folder
from nncli.runs.folder import RunFolder

runner = CliRunner()

# Two variants of one stack: the sweep's files include a model and a history per variant.
SWEEP = ["--vary", "training.lr=0.1,0.2"]
COMMANDS = {"train": [], "sweep": SWEEP}


@pytest.fixture(scope="module")
def config(tmp_path_factory, make_config) -> Path:
    path = tmp_path_factory.mktemp("config") / "moons.yaml"
    path.write_text(yaml.safe_dump(make_config()))
    return path


@pytest.fixture(scope="module")
def uninterrupted(config, tmp_path_factory) -> dict[str, Path]:
    """Each command's folder, run without a break: what a stopped one, resumed, must equal."""
    base = tmp_path_factory.mktemp("whole")
    folders = {}
    for command, extra in COMMANDS.items():
        folders[command] = base / command
        result = runner.invoke(app, [command, str(config), *extra, "--out", str(base / command)])
        assert result.exit_code == 0, result.output
    return folders


def stopped_at(at: str, *args) -> subprocess.CompletedProcess:
    script = Path(__file__).with_name("stop_at.py")
    command = [sys.executable, str(script), *at.split(), "--", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def status(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def same_files(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        if name.endswith(".safetensors"):
            x, y = load_file(a / name), load_file(b / name)
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


OUTCOMES = {  # what a resumed folder must hold as its uninterrupted twin does, bit for bit
    "train": ["model.safetensors", "metrics.json", "history.csv"],
    "sweep": [
        "summary.csv",
        "models.csv",
        "models/lr=0.1-seed3.safetensors",
        "history/lr=0.2-seed3.csv",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "file", "actions", "code"),
    [
        ("train", "loss.png", "TERM", 143),
        ("train", "metrics.json", "INT", 130),
        ("train", "run.json", "TERM", 143),  # the last question, before it says finished
        (
            "sweep",
            "models/lr=0.2-seed3.safetensors",
            "TERM,TERM,TERM",
            143,
        ),  # docker stop, repeated
        ("sweep", "loss_curves.png", "INT", 130),
        ("sweep", "report.html", "TERM", 143),
    ],
)
def test_a_stop_while_the_files_are_written_ends_the_run_resumably(
    config, uninterrupted, tmp_path, command, file, actions, code
):
    cut = tmp_path / "cut"
    stopped = stopped_at(f"file:{file} {actions}", command, config, *COMMANDS[command],
                         "--out", cut)  # fmt: skip
    assert stopped.returncode == code, stopped.stderr
    where = f"writing its files, before {file}"
    assert f"interrupted while {where}; saved {cut / 'last.safetensors'}" in stopped.stderr
    assert f"resume with: nncli {command} --resume {cut}" in stopped.stderr
    record = status(cut)
    assert record["status"] == "interrupted" and record["resumable"] is True
    assert record["stopped_at"] == where
    if file != "run.json":
        assert not (cut / file).exists()  # the files before it are written whole, it is not
    assert not list(cut.rglob(".*.tmp"))

    resumed = runner.invoke(app, [command, "--resume", str(cut), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert status(cut)["status"] == "finished"
    assert not (cut / "last.safetensors").exists() and not (cut / "last.history.jsonl").exists()
    same_files(uninterrupted[command], cut, OUTCOMES[command])


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_a_second_ctrl_c_while_the_files_are_written_quits_and_leaves_it_resumable(
    config, uninterrupted, tmp_path, command
):
    """The first Ctrl-C asks to stop before the next file; the second quits at once, inside
    the write in progress (atomic, so it leaves nothing half-written)."""
    cut = tmp_path / "cut"
    stopped = stopped_at("file:loss_curves.png INT,INT" if command == "sweep"
                         else "file:loss.png INT,INT", command, config, *COMMANDS[command],
                         "--out", cut)  # fmt: skip
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted (SIGINT); nothing more was saved" in stopped.stderr
    assert status(cut)["status"] == "interrupted" and status(cut)["resumable"] is True
    assert not list(cut.rglob(".*.tmp"))
    resumed = runner.invoke(app, [command, "--resume", str(cut)])
    assert resumed.exit_code == 0, resumed.output
    same_files(uninterrupted[command], cut, OUTCOMES[command])


def test_a_second_ctrl_c_while_the_first_stop_is_saved_still_marks_the_run_interrupted(
    tiny_moons, tmp_path, monkeypatch, stop_after
):
    """The first stop's state save is cut short by a quit: the ending is still recorded (the
    run resumes from the state saved at the last epoch's end)."""
    save = RunFolder.save_state

    def save_cut_short(folder: RunFolder, state, params) -> None:
        if state.step:  # the stop's own save: the periodic ones come at an epoch's end
            raise SignalExit(signal.SIGINT)
        save(folder, state, params)

    monkeypatch.setattr(RunFolder, "save_state", save_cut_short)
    cut = tmp_path / "cut"
    with pytest.raises(SignalExit):
        run_train(tiny_moons, [], out=cut, session=Session(should_stop=stop_after(30)))
    record = status(cut)
    assert record["status"] == "interrupted" and record["resumable"] is True
    monkeypatch.undo()
    assert run_train(None, [], resume=cut).to_json()["epochs_run"] == 5
    assert status(cut)["status"] == "finished"


def test_a_quit_as_run_json_is_written_waits_until_it_says_how_the_run_ended(
    tiny_moons, tmp_path, monkeypatch
):
    """Two Ctrl-Cs just as run.json is being written `finished`: the file is written whole,
    and says finished, before the quit ends the process."""
    write = run_folder.atomic_write_json

    def write_with_ctrl_c(path, record) -> None:
        if record.get("status") == "finished":
            os.kill(os.getpid(), signal.SIGINT)  # a stop request: training asked already
            os.kill(os.getpid(), signal.SIGINT)  # a quit: held until run.json is written
        write(path, record)

    monkeypatch.setattr(run_folder, "atomic_write_json", write_with_ctrl_c)
    out = tmp_path / "run"
    with stop_on_signals() as stop, pytest.raises(SignalExit):
        run_train(tiny_moons, [], out=out, session=Session(should_stop=stop))
    assert status(out)["status"] == "finished"
    assert not (out / "last.safetensors").exists()


def test_held_signals_hold_a_quit_until_the_block_ends():
    done = []
    with stop_on_signals() as request:
        request()  # training has begun: a first Ctrl-C is a request
        os.kill(os.getpid(), signal.SIGINT)
        assert request.signum == signal.SIGINT
        with pytest.raises(SignalExit), held_signals():
            os.kill(os.getpid(), signal.SIGINT)  # a second: Python runs the handler here
            done.append("the block ran to its end")
    assert done == ["the block ran to its end"]
