"""Nothing lost: interrupts, resume, atomic saves and write failures, as a user meets them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from nncli import fileio
from nncli.app.commands import run_train
from nncli.cli import app
from nncli.errors import Interrupted, UsageError
from nncli.grid.session import Session
from nncli.runs.state import load_training_state

runner = CliRunner()


@pytest.fixture(scope="module")
def long_config(tmp_path_factory) -> Path:
    """A run of a few seconds (80 epochs of 66 steps) to interrupt at chosen steps; early
    stopping on."""
    path = tmp_path_factory.mktemp("long") / "cfg.yaml"
    path.write_text(
        "data: {source: moons, n_samples: 1500}\nmodel: {depth: 2, width: 16}\n"
        "training: {lr: 0.05, momentum: 0.9, batch_size: 16, epochs: 80,"
        " early_stopping: {patience: 500}}\n"
    )
    return path


@pytest.fixture(scope="module")
def uninterrupted(long_config, tmp_path_factory) -> Path:
    """The long run's folder, trained without a break: what an interrupted run, resumed, must
    equal."""
    full = tmp_path_factory.mktemp("uninterrupted") / "full"
    assert runner.invoke(app, ["train", str(long_config), "--out", str(full), "-q"]).exit_code == 0
    return full


STEPS_PER_EPOCH = 66  # the long run's: 1050 training rows in batches of 16


def stopped_at(at: str, *args, pause: bool = False) -> subprocess.Popen:
    """`nncli ARGS` in a child that does `at` (tests/stop_at.py's AT ACTIONS) at the step it
    names; with `pause`, one that waits on stdin at that step (see `until_paused`)."""
    script = Path(__file__).with_name("stop_at.py")
    command = [sys.executable, str(script), *at.split(), "--", *map(str, args)]
    stdin = subprocess.PIPE if pause else subprocess.DEVNULL
    return subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def until_paused(process: subprocess.Popen) -> None:
    """Read the child's output until it says it is paused at its step (still training)."""
    for line in process.stdout:
        if line == "paused\n":
            return
    process.wait(timeout=60)
    raise AssertionError(f"the run ended before its step: {process.stderr.read()}")


def question(epoch: int, step: int) -> int:
    """Which stop question (one before each step, from 1) comes before `step` of `epoch`."""
    return (epoch - 1) * STEPS_PER_EPOCH + step + 1


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a), load_file(b)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "epoch", "step"),
    [
        ("INT", 130, 3, 7),  # mid-epoch, after a few saved epochs
        ("TERM", 143, 2, STEPS_PER_EPOCH - 1),  # before an epoch's last step
        ("INT", 130, 1, 0),  # before the first step: no epoch saved yet
    ],
)
def test_interrupt_at_a_chosen_step_then_resume_is_bitwise_identical(
    long_config, uninterrupted, tmp_path, sig, code, epoch, step
):
    full = uninterrupted
    cut = tmp_path / "cut"
    process = stopped_at(f"{question(epoch, step)} {sig}", "train", long_config, "--out", cut)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert f"resume with: nncli train --resume {cut}" in stderr
    status = json.loads((cut / "run.json").read_text())
    assert status["status"] == "interrupted" and status["resumable"] is True
    state, _, _ = load_training_state(cut / "last.safetensors")
    assert status["stopped_at"] == f"epoch {state.epoch}, step {state.step}"
    assert (state.epoch, state.step) == (epoch, step)
    assert not list(cut.glob(".*.tmp"))

    resumed = runner.invoke(app, ["train", "--resume", str(cut), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert same_weights(full / "model.safetensors", cut / "model.safetensors")
    assert (full / "metrics.json").read_bytes() == (cut / "metrics.json").read_bytes()
    assert (full / "history.csv").read_bytes() == (cut / "history.csv").read_bytes()
    assert json.loads((cut / "run.json").read_text())["status"] == "finished"
    assert not (cut / "last.safetensors").exists()


@pytest.mark.slow
def test_a_run_still_training_refuses_a_resume_and_a_second_ctrl_c_quits_at_once(
    long_config, tmp_path
):
    cut = tmp_path / "cut"
    # Paused at epoch 3, step 7 (its first epoch saved), then two Ctrl-Cs, one after the other.
    process = stopped_at(f"{question(3, 7)} pause,INT,INT", "train", long_config, "--out", cut,
                         pause=True)  # fmt: skip
    try:
        until_paused(process)
        result = runner.invoke(app, ["train", "--resume", str(cut)])
        assert result.exit_code == 2 and f"still running (process {process.pid}" in result.stderr
    finally:
        _, stderr = process.communicate("\n", timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.count("SIGINT: stopping at the next training step") == 1
    assert "interrupted (SIGINT); nothing more was saved" in stderr
    assert not list(cut.glob(".*.tmp"))
    # The second Ctrl-C quit at once, before the step boundary where the first would have saved
    # (epoch 3, step 7): the state is the last epoch's end (saved after the first epoch, then at
    # most once a second), whole, not half-written.
    state, _, _ = load_training_state(cut / "last.safetensors")
    assert state.step == 0 and 2 <= state.epoch <= 3
    status = json.loads((cut / "run.json").read_text())
    assert status["status"] == "interrupted" and "stopped_at" not in status


def test_resume_refuses_finished_missing_edited_and_misused_runs(tiny_moons, tmp_path, stop_after):
    done = tmp_path / "done"
    run_train(tiny_moons, [], out=done)
    cases = {
        "already finished": ["train", "--resume", str(done)],
        "not a run folder": ["train", "--resume", str(tmp_path / "nowhere")],
        "takes only the run folder": ["train", str(tiny_moons), "--resume", str(done)],
    }
    for message, args in cases.items():
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.stderr, result.output

    # An interrupted run whose config was edited afterwards must not silently train on.
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted, match="interrupted at epoch"):
        run_train(tiny_moons, [], out=cut, session=Session(should_stop=stop_after(30)))
    edited = (cut / "config.yaml").read_text().replace("lr: 0.1", "lr: 0.2")
    (cut / "config.yaml").write_text(edited)
    result = runner.invoke(app, ["train", "--resume", str(cut)])
    assert result.exit_code == 2 and "does not match the saved training state" in result.stderr


def test_history_csv_grows_each_epoch_and_a_resumed_run_continues_it(
    tiny_moons, tmp_path, stop_after
):
    full = tmp_path / "full"
    seen: list[str] = []  # the file as each epoch's progress report finds it

    def snapshot(folder: Path):
        return lambda report: seen.append((folder / "history.csv").read_text())

    run_train(tiny_moons, [], out=full, session=Session(on_epoch=snapshot(full)))
    final = (full / "history.csv").read_text()
    lines = final.splitlines(keepends=True)
    assert [len(text.splitlines()) for text in seen] == [2, 3, 4, 5, 6]  # header + epochs so far
    assert seen == ["".join(lines[: n + 2]) for n in range(5)]  # appended, never rewritten
    assert lines[0] == "epoch,train_loss,train_accuracy,val_loss,val_accuracy\n"

    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(
            tiny_moons, [], out=cut, session=Session(should_stop=stop_after(30))
        )  # inside epoch 4
    assert (cut / "history.csv").read_text() == "".join(lines[:4])  # epochs 1-3
    # As if epoch 4 had ended and been logged after the state was saved, then the process was
    # killed: the resumed run starts again from its state and must not repeat that row.
    with (cut / "history.csv").open("a") as handle:
        handle.write(lines[4])
    seen.clear()
    run_train(None, [], resume=cut, session=Session(on_epoch=snapshot(cut)))
    assert seen == ["".join(lines[:5]), final]
    assert (cut / "history.csv").read_text() == final


def test_a_full_disk_while_logging_an_epoch_is_one_line_and_resumable(
    tiny_moons, tmp_path, monkeypatch
):
    from nncli.app import outputs

    full, cut = tmp_path / "full", tmp_path / "cut"
    run_train(tiny_moons, [], out=full)

    def no_space(*args, **kwargs):
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(outputs, "open", no_space, raising=False)  # epoch 2 on cannot append
    result = runner.invoke(app, ["train", str(tiny_moons), "--out", str(cut)])
    assert result.exit_code == 2, result.output
    assert f"{cut / 'history.csv'}: cannot write: No space left on device" in result.stderr
    assert "Traceback" not in result.output
    assert json.loads((cut / "run.json").read_text())["resumable"] is True
    monkeypatch.undo()
    run_train(None, [], resume=cut)
    assert (cut / "history.csv").read_bytes() == (full / "history.csv").read_bytes()


def test_resume_refuses_data_that_changed(tmp_path, stop_after):
    data = tmp_path / "iris.csv"
    data.write_text((Path(__file__).parents[1] / "data/iris.csv").read_text())
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: iris.csv, target: species}\ntraining: {epochs: 20}\n")
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(config, [], out=cut, session=Session(should_stop=stop_after(40)))
    data.write_text(data.read_text().replace("5.1,3.5", "5.2,3.5", 1))
    result = runner.invoke(app, ["train", "--resume", str(cut)])
    assert result.exit_code == 2 and "no longer matches" in result.stderr


def test_diverging_run_keeps_the_last_good_state(write_config, tmp_path):
    # Raw diabetes targets, lr 0.005: epoch 1 survives, epoch 2 explodes.
    config = write_config(
        {"data": {"source": "diabetes", "scale_target": False}, "training": {"lr": 0.005}}
    )
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "non-finite at epoch 2" in result.stderr and "last good state is kept" in result.stderr
    state, params, _ = load_training_state(tmp_path / "r/last.safetensors")
    assert state.epoch == 2 and state.step == 0
    assert all(torch.isfinite(p).all() for p in params)
    assert runner.invoke(app, ["train", "--resume", str(tmp_path / "r")]).exit_code == 2


def test_out_folder_that_cannot_be_created(tiny_moons, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["train", str(tiny_moons), "--out", str(blocker / "run")])
    assert result.exit_code == 2
    assert "cannot create the run folder" in result.stderr and "Traceback" not in result.output


def test_disk_full_while_saving_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    fileio.atomic_write_json(target, {"old": 1})

    def full_disk(fd: int) -> None:
        raise OSError(28, os.strerror(28))  # ENOSPC

    monkeypatch.setattr(fileio.os, "fsync", full_disk)
    with pytest.raises(UsageError, match=r"metrics\.json: cannot write: No space left on device"):
        fileio.atomic_write_json(target, {"new": 2})
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_disk_full_during_a_run_is_one_clear_line(tiny_moons, tmp_path, monkeypatch):
    real_fsync = fileio.os.fsync
    calls = iter(range(10**6))

    def fill_up(fd: int) -> None:
        if next(calls) >= 4:  # the config and status go through; later saves fail
            raise OSError(28, os.strerror(28))
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", fill_up)
    result = runner.invoke(app, ["train", str(tiny_moons), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_an_interrupted_comparison_resumes_to_the_same_results(tiny_moons, tmp_path, stop_after):
    from nncli.app.commands import run_compare

    options = {"activations": ["sigmoid", "relu"], "n_seeds": 2}
    whole = run_compare(
        tiny_moons, ["training.epochs=12"], out=tmp_path / "whole", **options
    ).to_json()
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted, match="resume with: nncli compare-activations --resume"):
        stop = Session(should_stop=stop_after(50))
        run_compare(tiny_moons, ["training.epochs=12"], out=cut, session=stop, **options)
    assert json.loads((cut / "run.json").read_text())["status"] == "interrupted"
    result = runner.invoke(app, ["compare-activations", "--resume", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    resumed = json.loads(result.stdout)
    assert resumed["results"] == whole["results"]
    again = runner.invoke(app, ["compare-activations", "--resume", str(cut)])
    assert again.exit_code == 2 and "already finished" in again.stderr


def test_with_early_stopping_the_best_weights_so_far_are_kept_separately(
    write_config, tmp_path, stop_after
):
    config = write_config(
        {
            "data": {"source": "moons", "n_samples": 300},
            "training": {"epochs": 50, "early_stopping": {"patience": 50}},
        }
    )
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(config, [], out=cut, session=Session(should_stop=stop_after(100)))
    state, _, _ = load_training_state(cut / "last.safetensors")
    result = runner.invoke(app, ["evaluate", str(cut / "best.safetensors"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_samples"] == 45
    assert state.tracker["best_epoch"][0] >= 1
    assert runner.invoke(app, ["train", "--resume", str(cut), "-q"]).exit_code == 0
    assert not (cut / "best.safetensors").exists() and (cut / "model.safetensors").exists()


def test_resuming_with_the_other_command_says_which_to_use(tiny_moons, tmp_path, stop_after):
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(tiny_moons, [], out=cut, session=Session(should_stop=stop_after(20)))
    result = runner.invoke(app, ["compare-activations", "--resume", str(cut)])
    assert result.exit_code == 2 and "started by nncli train" in result.stderr


# --- run folders from elsewhere -----------------------------------------------------------------


def plant(path: Path, kind: str) -> None:
    """Replace a run folder's file by something nncli must not read."""
    path.unlink(missing_ok=True)
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "symlink to a secret":  # as to /etc/shadow: its lines must not be printed
        secret = path.parent.parent / "shadow"
        secret.write_text("root:SECRET-HASH:19000:0:99999:7:::\n")
        path.symlink_to(secret)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "nested 100,000 deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:  # a 1 TB sparse file: no disk used, but reading it would never fit
        with path.open("wb") as handle:
            handle.truncate(1 << 40)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("finished")
    config = folder / "moons.yaml"
    config.write_text(
        "data: {source: moons, n_samples: 100}\nmodel: {width: 4}\ntraining: {epochs: 2}\n"
    )
    assert runner.invoke(app, ["train", str(config), "--out", str(folder / "run")]).exit_code == 0
    return folder / "run"


FOREIGN = [
    ("evaluate", "model.safetensors", "symlink to /dev/zero"),
    ("evaluate", "model.safetensors", "fifo"),
    ("evaluate", "model.safetensors", "huge"),
    ("train", "last.safetensors", "symlink to /dev/zero"),
    ("train", "last.safetensors", "fifo"),
    ("train", "last.safetensors", "huge"),
    ("compare-activations", "last.safetensors", "fifo"),
    ("train", "run.json", "fifo"),
    ("train", "run.json", "huge"),
    ("train", "config.yaml", "symlink to /dev/zero"),
    ("train", "config.yaml", "symlink to a secret"),
    ("train", "config.yaml", "fifo"),
    ("train", "config.yaml", "huge"),
]
UNREADABLE = [("a", "run.json", "symlink to /dev/zero"), ("b", "run.json", "fifo"),
              ("c", "config.yaml", "huge"), ("d", "metrics.json", "fifo"),
              ("e", "metrics.json", "nested 100,000 deep")]  # fmt: skip


@pytest.fixture(scope="module")
def foreign(finished_run, tmp_path_factory, limited_cli) -> dict:
    """Copies of a finished run with one file planted, each resumed (or evaluated) by the CLI,
    and `nncli runs` over a folder of such copies, all in one limited child process:
    case -> (the run folder, the CompletedProcess)."""
    base = tmp_path_factory.mktemp("foreign")
    cases, folders = {}, {}
    for i, (command, file, kind) in enumerate(FOREIGN):
        run = base / str(i) / "run"
        shutil.copytree(finished_run, run)
        kind_of_run = "compare" if command == "compare-activations" else "train"
        # Resumable, as far as it says, by the command that resumes it.
        (run / "run.json").write_text(json.dumps({"status": "interrupted", "kind": kind_of_run}))
        shutil.copy(run / "model.safetensors", run / "last.safetensors")
        plant(run / file, kind)
        args = [command, run] if command == "evaluate" else [command, "--resume", run]
        name = f"{command} {file} {kind}"
        cases[name], folders[name] = (args, base), run
    listed = base / "runs"
    for name, file, kind in UNREADABLE:
        shutil.copytree(finished_run, listed / name)
        plant(listed / name / file, kind)
    shutil.copytree(finished_run, listed / "good")
    cases["runs"], folders["runs"] = (["runs", listed, "--json"], base), listed
    results = limited_cli(cases)
    return {name: (folders[name], results[name]) for name in cases}


@pytest.mark.slow
@pytest.mark.parametrize(("command", "file", "kind"), FOREIGN)
def test_a_foreign_run_folder_cannot_hang_or_exhaust_memory(foreign, command, file, kind):
    run, result = foreign[f"{command} {file} {kind}"]
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.startswith(f"error: {run / file}: ") and len(result.stderr.splitlines()) == 1
    )
    expected = {"fifo": "is a FIFO", "huge": "is 1048576 MiB; nncli reads at most"}
    assert expected.get(kind, "is a symbolic link; not followed") in result.stderr
    assert "SECRET" not in result.stderr


@pytest.mark.slow
def test_nncli_runs_skips_run_folders_with_unreadable_files(foreign):
    _, result = foreign["runs"]
    assert result.returncode == 0, result.stderr
    assert [r["run"] for r in json.loads(result.stdout)] == ["good"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
    ids=["not-json", "a-list", "deeply-nested", "not-utf8"],
)
@pytest.mark.parametrize("command", ["train", "compare-activations"])
def test_a_corrupt_run_json_is_one_line_on_resume(finished_run, tmp_path, text, message, command):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    shutil.copy(run / "model.safetensors", run / "last.safetensors")
    if isinstance(text, bytes):
        (run / "run.json").write_bytes(text)
    else:
        (run / "run.json").write_text(text)
    result = runner.invoke(app, [command, "--resume", str(run)])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {run / 'run.json'}: {message}\n"


def crafted_state(cut: Path, out: Path, edit) -> Path:
    """A copy of an interrupted run whose last.safetensors `edit(loop, tensors)` changed."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    shutil.copytree(cut, out)
    with safe_open(str(cut / "last.safetensors"), "pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(cut / "last.safetensors")
    loop = json.loads(metadata["loop"])
    edit(loop, tensors)
    save_file(tensors, out / "last.safetensors", metadata={**metadata, "loop": json.dumps(loop)})
    return out


def _set(mapping: dict, key: str, value: object) -> None:
    mapping[key] = value


CRAFTED = {
    "epoch-a-string": lambda loop, t: _set(loop, "epoch", "x"),
    "epoch-negative": lambda loop, t: _set(loop, "epoch", -5),  # trained extra epochs silently
    "step-beyond-the-epoch": lambda loop, t: _set(loop, "step", 10**12),
    "order-out-of-range": lambda loop, t: _set(t, "order", t["order"] + 10**6),
    "order-of-other-data": lambda loop, t: _set(t, "order", torch.randperm(7).unsqueeze(0)),
    "shuffler-state-cut": lambda loop, t: _set(t, "shuffler.0", t["shuffler.0"][:10].clone()),
    "best-weights-resized": lambda loop, t: _set(t, "best.0", t["best.0"][:, :3].clone()),
    "history-a-string": lambda loop, t: _set(loop["records"][0], "history_rows", "zzz"),
    "history-inline": lambda loop, t: _set(loop["records"][0], "history", []),
    "history-rows-beyond-the-file": lambda loop, t: _set(loop["records"][0], "history_rows", 99),
    "outputs-of-another-step": lambda loop, t: _set(loop, "step", loop["step"] + 1),
    "tracker-empty": lambda loop, t: _set(loop, "tracker", {"x": 1}),
    "models-miscounted": lambda loop, t: _set(loop, "n_models", 3),
    "record-a-string": lambda loop, t: _set(loop["records"], 0, "fast"),
    "momentum-buffer-resized": lambda loop, t: _set(t, "momentum.0", torch.zeros(3)),
}


@pytest.mark.parametrize("edit", CRAFTED.values(), ids=CRAFTED.keys())
def test_a_crafted_resumable_state_is_one_line_not_an_internal_error(
    tiny_moons, tmp_path, edit, stop_after
):
    """Config and data match (so the run is resumable), but the saved loop state is malformed:
    each was an internal error inside the training loop, or (a negative epoch) trained on."""
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(tiny_moons, [], out=cut, session=Session(should_stop=stop_after(30)))
    crafted = crafted_state(cut, tmp_path / "crafted", edit)
    result = runner.invoke(app, ["train", "--resume", str(crafted)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {crafted / 'last.safetensors'}: cannot resume from")
    assert len(result.stderr.splitlines()) == 1
